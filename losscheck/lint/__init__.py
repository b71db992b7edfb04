"""The linter: discover files -> find loss functions -> facts (imports, scopes, shapes) -> rules -> findings -> reporters."""
