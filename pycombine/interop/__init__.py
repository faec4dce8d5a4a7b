"""Other statistical-model formats: pyhf JSON workspaces (:mod:`.pyhf`)."""
