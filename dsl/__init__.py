"""The thidua ruleset language: parser, AST, checker, compiler, evaluator, formatter, diff."""
