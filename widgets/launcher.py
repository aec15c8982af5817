"""RecipeLauncher: choose a recipe or workflow and preset, fill its parameters, preview the
association of a selection (level and reason per calibration, overridable), launch, follow.

After a launch the launcher follows its processes by itself (every ``poll_s`` seconds, until
each has ended); Refresh progress stays for an immediate look.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import traitlets

from hcdc_kernel.client import Batch, HcdcClient, Recipe, connect
from hcdc_kernel.client.models import AssociationPreview
from hcdc_widgets.live import Poller
from hcdc_widgets.markup import Markup, escape, format_html, join, table
from hcdc_widgets.process_browser import reused_text
from hcdc_widgets.schema_form import ParamForm
from hcdc_widgets.status import StatusLine

__all__ = ["RecipeLauncher"]

_NO_PRESET = ""


class RecipeLauncher(w.VBox):
    """Launch recipes and workflows on a selection of data files.

    Attributes (traitlets)
    ----------------------
    mode : str
        ``"recipe"`` or ``"workflow"``.
    recipe, preset : str
        The chosen recipe (or workflow) and preset.
    selection : list of int
        Data files to launch on (linked to a DataBrowser's ``selected_ids`` by
        :meth:`follow`).
    overrides : dict
        SOF tag -> data file ids chosen instead of the association's.
    process_ids : list of int
        Processes of the last launch; ``progress`` their mean progress in percent.
    """

    mode = traitlets.Unicode("recipe")
    recipe = traitlets.Unicode("")
    preset = traitlets.Unicode(_NO_PRESET)
    selection = traitlets.List(traitlets.Int())
    overrides = traitlets.Dict()
    process_ids = traitlets.List(traitlets.Int())
    progress = traitlets.Float(0.0)

    def __init__(
        self,
        client: HcdcClient | None = None,
        *,
        browser: Any | None = None,
        workspace: str | None = None,
        include_hidden: bool = False,
        poll_s: float = 2.0,
    ) -> None:
        self.client = client or connect()
        self._follower = Poller(self._follow_tick, interval_s=poll_s, name="hcdc-launch-follow")
        self.status = StatusLine()
        self.batch: Batch | None = None
        self.previews: list[AssociationPreview] = []
        self._recipes: dict[str, Recipe] = {}
        self._workflows: dict[str, Any] = {}
        self._mode = w.ToggleButtons(options=["recipe", "workflow"], description="Launch a")
        self._recipe = w.Dropdown(description="Recipe", layout=w.Layout(width="360px"))
        self._preset = w.Dropdown(description="Preset", layout=w.Layout(width="360px"))
        self._doc = w.HTML()
        self.form = ParamForm()
        self._workspace = w.Text(value=workspace or "", description="Workspace")
        self._reference = w.Text(description="Reference", placeholder="free label")
        self._selection = w.HTML()
        self._preview_button = w.Button(description="Preview inputs", icon="eye")
        self._preview = w.VBox()
        self._launch_button = w.Button(description="Launch", button_style="success", icon="play")
        self._refresh_button = w.Button(description="Refresh progress", icon="refresh")
        self._bar = w.FloatProgress(min=0.0, max=100.0, description="Progress")
        self._processes = w.HTML()
        super().__init__(
            [
                w.HTML("<b>Recipe launch</b>"),
                self._mode,
                w.HBox([self._recipe, self._preset]),
                self._doc,
                self.form,
                w.HBox([self._workspace, self._reference]),
                self._selection,
                self._preview_button,
                self._preview,
                w.HBox([self._launch_button, self._refresh_button]),
                self._bar,
                self._processes,
                self.status,
            ]
        )
        traitlets.link((self._mode, "value"), (self, "mode"))
        self.observe(lambda _: self.status.run(self._fill_names), "mode")
        self._recipe.observe(lambda c: self.status.run(lambda: self.choose(c["new"])), "value")
        self._preset.observe(
            lambda c: self.status.run(lambda: self.choose_preset(c["new"])), "value"
        )
        self.observe(lambda _: self._show_selection(), "selection")
        self._preview_button.on_click(lambda _: self.status.run(self.preview))
        self._launch_button.on_click(lambda _: self.status.run(self.launch))
        self._refresh_button.on_click(lambda _: self.status.run(self.refresh_progress))
        self.status.run(lambda: self.load(include_hidden=include_hidden))
        if browser is not None:
            self.follow(browser)
        self._show_selection()

    # -- choices -------------------------------------------------------------------------------

    def load(self, *, include_hidden: bool = False) -> None:
        """Read the recipes (current versions) and workflows from the service."""
        self._recipes = {
            r.name: r for r in self.client.recipes(include_hidden=include_hidden) if r.is_current
        }
        self._workflows = {wf.name: wf for wf in self.client.workflows() if wf.is_current}
        self._fill_names()

    def _fill_names(self) -> None:
        if self.mode == "recipe":
            names = [
                (n if r.available else f"{n} (unavailable)", n)
                for n, r in sorted(self._recipes.items())
            ]
            self._recipe.description = "Recipe"
        else:
            names = [(n, n) for n in sorted(self._workflows)]
            self._recipe.description = "Workflow"
        self._recipe.options = names
        if names:
            self.choose(names[0][1])

    def choose(self, name: str) -> None:
        """Choose a recipe (or, in workflow mode, a workflow) by name."""
        if self.mode == "workflow":
            workflow = self._workflows[name]
            self.recipe = name
            self._recipe.value = name
            steps = " → ".join(s["name"] for s in workflow.spec.get("steps", ()))
            self._doc.value = format_html(
                "{}<br><i>steps: {}</i>", workflow.spec.get("description", ""), steps
            )
            self.form.set_schema({})
            self._preset.options = [("(none)", _NO_PRESET)]
            return
        recipe = self._recipes[name]
        self.recipe = name
        self._recipe.value = name
        doc = escape(recipe.description)
        if not recipe.available:
            doc = format_html("{}<br><b>unavailable:</b> {}", doc, recipe.unavailable_reason)
        slots = ", ".join(
            f"{s['tag']} ({'/'.join(s.get('frame_types', []))})" for s in recipe.inputs
        )
        self._doc.value = format_html("{}<br><i>inputs: {}</i>", doc, slots)
        self.form.set_schema(recipe.params_schema)
        self._preset.options = [("(none)", _NO_PRESET), *((p, p) for p in recipe.presets)]
        self._preset.value = _NO_PRESET
        self.preset = _NO_PRESET
        self.overrides = {}
        self.previews = []
        self._preview.children = ()

    def choose_preset(self, preset: str) -> None:
        """Apply a preset of the current recipe (its values fill the form)."""
        self.preset = preset or _NO_PRESET
        if self._preset.value != self.preset:
            self._preset.value = self.preset
        if self.mode == "recipe" and self.recipe:
            recipe = self._recipes[self.recipe]
            self.form.set_values(recipe.defaults(self.preset or None))

    def set_param(self, name: str, value: Any) -> None:
        """Set one parameter of the form."""
        self.form.set_values({name: value})

    # -- inputs --------------------------------------------------------------------------------

    def follow(self, browser: Any) -> None:
        """Take the selection from ``browser`` (anything with a ``selected_ids`` trait)."""
        traitlets.dlink((browser, "selected_ids"), (self, "selection"))

    def _show_selection(self) -> None:
        ids = ", ".join(str(i) for i in self.selection[:20])
        more = " …" if len(self.selection) > 20 else ""
        self._selection.value = escape(f"Selection: {len(self.selection)} data files {ids}{more}")

    def preview(self) -> list[AssociationPreview]:
        """Ask the service how the selection would be grouped and calibrated."""
        if self.mode != "recipe":
            raise ValueError("previews are for recipes; a workflow associates each step")
        self.previews = self.client.associate(self.recipe, self.selection, overrides=self.overrides)
        self._preview.children = [self._preview_box(p, i) for i, p in enumerate(self.previews)]
        complete = sum(p.complete for p in self.previews)
        self.status.say(f"{len(self.previews)} processes, {complete} with every input")
        return self.previews

    def _preview_box(self, preview: AssociationPreview, index: int) -> w.Widget:
        rows = [
            (
                s.tag,
                ", ".join(map(str, s.data_file_ids)),
                s.level,
                s.reason,
                "yes" if s.required else "",
            )
            for s in preview.slots
        ]
        missing = (
            format_html(" <b>missing: {}</b>", ", ".join(preview.missing))
            if preview.missing
            else Markup()
        )
        title = format_html(
            "Process {}: {} {}{}",
            index + 1,
            preview.primary_tag,
            ", ".join(map(str, preview.primary_ids)),
            missing,
        )
        slots = table(rows, header=("Tag", "Files", "Level", "Reason", "Required"))
        overrides = []
        for slot in preview.slots:
            text = w.Text(
                value=",".join(map(str, self.overrides.get(slot.tag, []))),
                description=f"{slot.tag}",
                placeholder="ids to use instead",
                style={"description_width": "200px"},
                layout=w.Layout(width="420px"),
            )
            text.observe(
                lambda c, tag=slot.tag: self.status.run(lambda: self.override(tag, _ids(c["new"]))),
                "value",
            )
            overrides.append(text)
        return w.VBox([w.HTML(format_html("<b>{}</b>{}", title, slots)), *overrides])

    def override(self, tag: str, data_ids: Sequence[int]) -> None:
        """Use ``data_ids`` for SOF tag ``tag`` instead of the association (empty: undo)."""
        overrides = dict(self.overrides)
        if data_ids:
            overrides[tag] = [int(i) for i in data_ids]
        else:
            overrides.pop(tag, None)
        self.overrides = overrides

    # -- launch and progress -------------------------------------------------------------------

    def launch(self) -> Batch:
        """Launch on the selection; the processes are followed by :meth:`refresh_progress`."""
        if not self.selection:
            raise ValueError("select data files first")
        workspace = self._workspace.value.strip() or None
        reference = self._reference.value.strip() or None
        if self.mode == "workflow":
            batch = self.client.launch_workflow(
                self.recipe, self.selection, workspace=workspace, reference=reference
            )
        else:
            batch = self.client.launch(
                self.recipe,
                self.selection,
                associate=True,
                params=self._changed_params(),
                preset=self.preset or None,
                workspace=workspace,
                reference=reference,
                overrides=self.overrides,
            )
        self.batch = batch
        self.process_ids = [p.id for p in batch]
        self.status.say(f"batch {batch.id}: processes {', '.join(map(str, self.process_ids))}")
        self.refresh_progress()
        if not self.finished:
            self._follower.start()
        return batch

    @property
    def finished(self) -> bool:
        """Whether every process of the last launch has ended (done, error, cancelled...)."""
        return self.batch is not None and all(p.finished for p in self.batch)

    @property
    def following(self) -> bool:
        """Whether the launcher is following its processes in the background."""
        return self._follower.running

    def _follow_tick(self) -> bool:
        self.status.run(self.refresh_progress)
        return not self.finished

    def _changed_params(self) -> dict[str, Any]:
        """Parameters differing from the recipe's defaults and preset (the rest stay implicit)."""
        recipe = self._recipes[self.recipe]
        defaults = recipe.defaults(self.preset or None)
        return {k: v for k, v in self.form.values.items() if defaults.get(k) != v}

    def refresh_progress(self) -> float:
        """Read the launched processes again; their mean progress in percent."""
        if self.batch is None:
            return 0.0
        lines = []
        total = 0.0
        for process in self.batch:
            process.refresh()
            total += 100.0 if process.finished else process.progress
            reused = reused_text(process.info)
            lines.append(
                f"{process.id}: {process.info.get('recipe_name')} "
                f"{process.status} {process.progress:.0f}%" + (f" ({reused})" if reused else "")
            )
        self.progress = total / max(len(self.batch), 1)
        self._bar.value = self.progress
        self._processes.value = join("<br>", lines)
        return self.progress


def _ids(text: str) -> list[int]:
    return [int(part) for part in text.replace(" ", ",").split(",") if part.strip()]
