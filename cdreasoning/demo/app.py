"""The demo page: two photographs in, their colour difference scored, explained and mapped (Gradio Blocks).

    page = DemoPage(analyzer, UploadFolder(), examples=example_pairs("runs/quickstart/data"))
    blocks = page.build()            # gr.Blocks, queued (one analysis at a time, others wait in line)
    blocks.launch(server_name="127.0.0.1", server_port=7860)

`cdreasoning demo` (cli.py) builds and serves this. One request:

1. both uploads are checked and normalised into a private request folder (`uploads.prepare_upload`); a bad
   file gives one line on the page (and in the API's JSON as "error"), never a traceback;
2. `PairAnalyzer.analyse` runs the model (score, then description), the baselines, the ΔE00 map and CD-Flow,
   reporting progress between steps;
3. the page gets the score, the level-probability bars, the description with its seven-attribute table, the
   baselines, the map (aligned pairs) or the reason it is absent, and every number as JSON;
4. the request folder is removed; Gradio's own copies live in its cache under the same temporary root.

The API (`gradio_client`): `Client(url).predict(handle_file(a), handle_file(b), False, api_name="/analyse")`
returns the outputs in the order of `OUTPUTS`; the last is the JSON of `PairAnalysis.to_dict()` (or
{"error": …}).
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import numpy as np

from cdreasoning.demo import render
from cdreasoning.demo.uploads import UploadError, UploadFolder, prepare_upload

__all__ = ["OUTPUTS", "DemoPage"]

log = logging.getLogger(__name__)

# The outputs of the analyse event, in order (also the order gradio_client returns them in).
OUTPUTS = (
    "status",
    "overlay",
    "reference",
    "test",
    "score",
    "probabilities",
    "description",
    "severities",
    "baselines",
    "heat_map",
    "colours",
    "numbers",
)

INTRO = """# Colour difference of two photographs
Drop a **reference** and a **test** image (or click an example) and press **Compare**. The model scores the
difference on the five M-SPCD levels and describes it along seven attributes; CIEDE2000, S-CIELAB (and CD-Flow
when loaded) measure the same pair. Files stay on this machine, in a temporary folder removed when the server
stops."""


class DemoPage:
    """The page around one `PairAnalyzer`. uploads: where normalised files go; examples: `ExamplePair`s;
    model_name: shown in the header; max_side: longer side kept from an upload."""

    def __init__(
        self,
        analyzer,
        uploads: UploadFolder,
        examples=(),
        model_name: str = "",
        max_side: int | None = None,
    ):
        self.analyzer = analyzer
        self.uploads = uploads
        self.examples = list(examples)
        self.model_name = model_name
        self.max_side = max_side

    # --- one request -------------------------------------------------------------------------------------

    def _empty(self, message: str) -> tuple:
        """Outputs for a request that produced no result: the message, nothing else."""
        return (message, None, None, None, "", None, "", [], [], None, "", {"error": message})

    def analyse(self, file_a, file_b, force_aligned: bool = False, progress=None) -> tuple:
        """The analyse event: uploaded paths in, the outputs of `OUTPUTS` out."""
        if not file_a or not file_b:
            return self._empty("Upload two images: a reference and a test image.")
        request = self.uploads.request_dir()
        try:
            return self._analyse(Path(file_a), Path(file_b), bool(force_aligned), request, progress)
        except UploadError as err:
            return self._empty(f"**Cannot use this upload.** {err}")
        except Exception as err:  # noqa: BLE001 - the page shows one line; the log keeps the traceback
            log.error("analysis failed:\n%s", traceback.format_exc())
            return self._empty(
                f"**The analysis failed** ({type(err).__name__}: {err}). The server log has details."
            )
        finally:
            self.uploads.discard(request)

    def _analyse(self, file_a: Path, file_b: Path, force_aligned: bool, request: Path, progress) -> tuple:
        import gradio as gr
        from PIL import Image

        report = progress or (lambda fraction, desc=None: None)
        report(0.0, desc="checking the images")
        limits = {} if self.max_side is None else {"max_side": self.max_side}
        image_a = prepare_upload(file_a, request, "reference image", name="reference", **limits)
        image_b = prepare_upload(file_b, request, "test image", name="test", **limits)

        def step(fraction: float, what: str) -> None:
            report(0.05 + 0.95 * fraction, desc=what)

        analysis = self.analyzer.analyse(
            image_a.path,
            image_b.path,
            progress=step,
            names=(file_a.name, file_b.name),
            force_aligned=force_aligned,
        )
        # Pixels, not paths: the request folder is removed when this returns.
        with Image.open(image_a.path) as a, Image.open(image_b.path) as b:
            pixels_a, pixels_b = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
        seconds = sum(analysis.seconds.values())
        notes = [*image_a.notes, *image_b.notes]
        if image_a.size != image_b.size:
            notes.append(
                f"the images differ in size ({image_a.size[0]}×{image_a.size[1]} vs "
                f"{image_b.size[0]}×{image_b.size[1]} px); the baselines compare them at the common size "
                f"{analysis.size[0]}×{analysis.size[1]} px"
            )
        status = f"Done in {seconds:.1f} s ({file_a.name} vs {file_b.name})."
        if notes:
            status += "\n\n" + "\n".join(f"- {note}" for note in notes)
        numbers = analysis.to_dict()
        numbers["notes"] = notes
        heat_map = render.heat_map_image(analysis)
        table = render.probability_table(analysis)
        import pandas as pd

        return (
            status,
            (pixels_a, pixels_b),
            pixels_a,
            pixels_b,
            render.score_markdown(analysis),
            pd.DataFrame(table),
            analysis.description.text if analysis.description is not None else "(descriptions are off)",
            render.severity_rows(analysis),
            render.baseline_rows(analysis),
            # hidden for a pair that is not aligned (colour_markdown says why), instead of an empty box
            gr.update(value=heat_map, visible=heat_map is not None),
            render.colour_markdown(analysis),
            numbers,
        )

    # --- the page ----------------------------------------------------------------------------------------

    def build(self):
        """The gr.Blocks of the page, with its queue set up (one analysis runs at a time)."""
        import gradio as gr

        levels = list(self.analyzer.scorer.levels.words)

        def run(file_a, file_b, force_aligned, progress=gr.Progress()):  # noqa: B008 - Gradio's injection
            return self.analyse(file_a, file_b, force_aligned, progress)

        with gr.Blocks(title="cdreasoning: colour difference", delete_cache=(600, 3600)) as blocks:
            gr.Markdown(INTRO + (f"\n\nModel: `{self.model_name}`" if self.model_name else ""))
            with gr.Row():
                file_a = gr.File(label="Reference image", type="filepath", elem_id="reference-upload")
                file_b = gr.File(label="Test image", type="filepath", elem_id="test-upload")
            with gr.Row():
                force_aligned = gr.Checkbox(
                    label="The two images are edits of one photo (always draw the ΔE00 map)", value=False
                )
                compare = gr.Button("Compare", variant="primary", elem_id="compare")
            examples_area = gr.Column()  # filled below, once the outputs the examples write to exist
            status = gr.Markdown(elem_id="status")
            with gr.Row():
                with gr.Column(scale=3):
                    overlay = gr.ImageSlider(
                        label="Overlay: drag the handle to compare", type="numpy", elem_id="overlay"
                    )
                    with gr.Row():
                        reference = gr.Image(label="Reference", type="numpy", interactive=False)
                        test = gr.Image(label="Test", type="numpy", interactive=False)
                with gr.Column(scale=2):
                    score = gr.Markdown(elem_id="score")
                    probabilities = gr.BarPlot(
                        x="level",
                        y="probability",
                        sort=levels,
                        y_lim=[0, 1],
                        title="Level probabilities",
                        elem_id="level-probabilities",
                    )
            with gr.Row():
                with gr.Column():
                    description = gr.Textbox(
                        label="Description (generated)", lines=5, interactive=False, elem_id="description"
                    )
                    severities = gr.Dataframe(
                        headers=["attribute", "severity"],
                        label="Severities parsed from the description",
                        interactive=False,
                        elem_id="attribute-table",
                    )
                with gr.Column():
                    baselines = gr.Dataframe(
                        headers=["method", "ΔE", "what it is"],
                        label="Baselines on the same pair",
                        interactive=False,
                        elem_id="baselines",
                    )
                    colours = gr.Markdown(elem_id="colours")
                    heat_map = gr.Image(
                        label="ΔE00 map",
                        show_label=False,
                        type="numpy",
                        interactive=False,
                        elem_id="heat-map",
                    )
            with gr.Accordion("All numbers (JSON)", open=False):
                numbers = gr.JSON(elem_id="numbers")
            outputs = [
                status,
                overlay,
                reference,
                test,
                score,
                probabilities,
                description,
                severities,
                baselines,
                heat_map,
                colours,
                numbers,
            ]
            compare.click(run, inputs=[file_a, file_b, force_aligned], outputs=outputs, api_name="analyse")
            if self.examples:
                with examples_area:
                    gr.Examples(
                        examples=[[str(e.path_a), str(e.path_b), False] for e in self.examples],
                        example_labels=[e.label for e in self.examples],
                        inputs=[file_a, file_b, force_aligned],
                        outputs=outputs,
                        fn=run,
                        run_on_click=True,
                        cache_examples=False,
                        label="Examples from the synthetic set (human ΔV shown); one click runs them",
                    )
        blocks.queue(default_concurrency_limit=1, max_size=64)
        return blocks
