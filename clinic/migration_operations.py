"""Migration operations of our own.

`VerboseNames` is a batch of `AlterField`s that change nothing but a field's verbose name
(the words the admin and the forms show, marked for translation). No database stores a
verbose name, so the batch changes only Django's migration state, and reloads each model
once instead of once per field: applied as plain `AlterField`s, the five translation
migrations took half of the minute that a fresh database (each test worker's, a new
clinic's) spent migrating.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations import AlterField
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState


class VerboseNames(Operation):
    reversible = True
    reduces_to_sql = True  # to no SQL at all: `sqlmigrate` prints nothing for it

    def __init__(self, changes: Sequence[AlterField]) -> None:
        for change in changes:
            if not isinstance(change, AlterField):
                raise TypeError(f"VerboseNames takes AlterField operations, not {change!r}")
        self.changes = list(changes)

    def deconstruct(self) -> tuple[str, list[object], dict[str, object]]:
        return self.__class__.__name__, [self.changes], {}

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        models = set()
        for change in self.changes:
            key = (app_label, change.model_name_lower)
            old = state.models[key].fields[change.name].deconstruct()[3]
            new = change.field.deconstruct()[3]
            changed = {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}
            if changed - {"verbose_name"}:
                raise ValueError(
                    f"{app_label}.{change.model_name}.{change.name}: VerboseNames changes "
                    f"only verbose names, not {sorted(changed - {'verbose_name'})}"
                )
            state.models[key].fields[change.name] = change.field
            models.add(key)
        for key in sorted(models):
            state.reload_model(*key, delay=True)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        pass  # a verbose name is not in the database

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        pass

    def describe(self) -> str:
        return f"Change the verbose names of {len(self.changes)} fields"

    @property
    def migration_name_fragment(self) -> str:
        return "verbose_names"
