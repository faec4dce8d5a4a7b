"""User-facing tools beyond ``combine -M``: impacts, model inspection, GoF p-values, regression checks."""
