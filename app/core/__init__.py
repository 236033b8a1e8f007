"""Small shared plumbing used by every module: base model, errors, time, HTTP helpers."""
