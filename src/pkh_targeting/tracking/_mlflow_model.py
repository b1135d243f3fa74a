"""MLflow "models from code" entry point: the pyfunc wrapper logged with every TargetingModel.

Loading runs this file from the package, not a pickle: the model itself is JSON and LightGBM text
(the ``targeting_model`` artifact), read by `TargetingModel.load`.
"""

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from pkh_targeting.modeling import TargetingModel
from pkh_targeting.tracking._pyfunc import split_records


class TargetingPyfunc(PythonModel):
    """``predict(records)``: records are members joined with their family's columns
    (`pkh_targeting.tracking.join_records`); returns the scored-batch contract."""

    def load_context(self, context):
        self.model = TargetingModel.load(context.artifacts["targeting_model"])

    def predict(self, context, model_input: pd.DataFrame, params=None):
        families, members = split_records(model_input)
        params = dict(params or {})
        params["reference_date"] = params.get("reference_date") or None
        return self.model.score(families, members, **params)


mlflow.models.set_model(TargetingPyfunc())
