"""IVR: flows as validated, versioned data, run over FastAGI.

- `model`, `validate`: the flow document, its parser and its checks (pure).
- `engine`: the step logic of a call through a flow (pure, effects out, results in).
- `calendar`, `prompts`: business hours; which file plays a prompt, generated prompts.
- `store`: versions, activation, rollback, call paths (PostgreSQL).
- `runner`: `IvrRuntime.handle`, the FastAGI handler for inbound calls.
- `cli`: `ccpbx ivr check|activate|rollback|status|history` and `ccpbx prompts build`.
"""
