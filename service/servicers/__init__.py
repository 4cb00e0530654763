"""The thidua.v1 servicers: `RulesetServicer` and `EvaluationServicer`, over one `RulesetSource`."""
