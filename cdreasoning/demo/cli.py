"""`cdreasoning demo` — a local web page: drop two photographs, see the colour difference scored, explained and
mapped.

    cdreasoning demo                                       # the quickstart's model (runs/quickstart/…)
    cdreasoning demo --model-path CKPT --cdflow work_dir/best.pt --port 7860
    cdreasoning demo --model-path CKPT --host 0.0.0.0      # reachable from other machines (warns)

Needs the `demo` extra (`pip install -e ".[demo]"`, which `scripts/setup_env.sh` installs). Without
--model-path the quickstart's LoRA model is used when it exists (`bash scripts/quickstart.sh` makes it). The
server binds to 127.0.0.1 unless told otherwise; uploads are written only inside a temporary folder that is
removed when the server stops (Ctrl-C). Requests are queued: one analysis runs at a time.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from cdreasoning.inference.cli_common import add_model_arguments

__all__ = ["build_parser", "default_model_path", "main"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_UPLOAD = "200mb"  # Gradio refuses larger files before writing them (uploads.MAX_PIXELS checks the rest)


# The quickstart's outputs (`QuickstartConfig().out`; the quickstart sits above the demo in the layers, so the
# path is written here and tests/demo/test_cli.py checks that it matches).
QUICKSTART_MODEL = Path("runs/quickstart/models/lora-merged")


def default_model_path() -> Path:
    """The model the quickstart trains last (its LoRA model merged into a standalone checkpoint)."""
    return QUICKSTART_MODEL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdreasoning demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser, model_path_required=False)
    page = parser.add_argument_group("page")
    page.add_argument(
        "--cdflow",
        metavar="CKPT",
        default=None,
        help="a CD-Flow checkpoint (best.pt) to show next to the model",
    )
    page.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    page.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    page.add_argument(
        "--examples",
        type=Path,
        default=None,
        help="a synthetic set (folder with test.csv and images/) to take example pairs from (default: the "
        "quickstart's set, or a small one made at start-up)",
    )
    page.add_argument(
        "--max-new-tokens",
        type=int,
        default=256,
        help="length limit of the generated description (default 256)",
    )
    page.add_argument("--no-describe", action="store_true", help="score only (no description; faster)")
    page.add_argument(
        "--max-side", type=int, default=2048, help="uploads are downscaled to this longer side (default 2048)"
    )
    return parser


def _model_path(args, parser) -> Path:
    if args.model_path:
        path = Path(args.model_path)
        if not path.is_dir():
            parser.error(f"--model-path {path}: no such checkpoint folder")
        return path
    path = default_model_path()
    if not (path / "config.json").is_file():
        parser.error(
            f"no --model-path given and the quickstart's model {path} does not exist yet; make it with "
            "`bash scripts/quickstart.sh` (about 7 minutes on a CPU) or pass --model-path CKPT"
        )
    return path


def _import_gradio():
    try:
        import gradio
    except ImportError:
        sys.exit(
            "cdreasoning demo: the page needs Gradio, which is not installed. Install the demo extra: "
            'pip install -e ".[demo]" -c scripts/constraints.txt (or bash scripts/setup_env.sh)'
        )
    return gradio


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be 1-65535, got {args.port}")
    model_path = _model_path(args, parser)
    if args.cdflow is not None and not Path(args.cdflow).is_file():
        parser.error(f"--cdflow {args.cdflow}: no such checkpoint file")
    if args.host not in LOCAL_HOSTS:
        print(
            f"cdreasoning demo: WARNING: binding to {args.host}, not 127.0.0.1: anyone who can reach this "
            "machine on the network can use the page and upload files to it",
            file=sys.stderr,
        )

    from cdreasoning.demo.uploads import UploadFolder

    uploads = UploadFolder()
    # Gradio keeps its copies of uploads and outputs in GRADIO_TEMP_DIR (some modules read it on import), so
    # it points into the private folder before gradio is imported: nothing lands in /tmp/gradio.
    os.environ["GRADIO_TEMP_DIR"] = str(uploads.root / "gradio")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        _import_gradio()
        return _serve(args, model_path, uploads)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        uploads.cleanup()


def _stop(signum, frame):
    """SIGTERM (a service manager, a test) stops the server like Ctrl-C, so the upload folder is removed."""
    raise KeyboardInterrupt


def _serve(args, model_path: Path, uploads) -> int:
    from cdreasoning.demo.analysis import PairAnalyzer
    from cdreasoning.demo.app import DemoPage
    from cdreasoning.demo.examples import default_example_folder, example_pairs, make_example_set
    from cdreasoning.inference.cli_common import load_scorer

    args.model_path = str(model_path)
    print(f"cdreasoning demo: loading {model_path}", file=sys.stderr)
    scorer = load_scorer(args)
    cdflow = None
    if args.cdflow:
        from cdreasoning.cdflow import CDFlowMetric

        cdflow = CDFlowMetric.from_checkpoint(args.cdflow, device=args.device)
    analyzer = PairAnalyzer(scorer, cdflow, describe=not args.no_describe, max_new_tokens=args.max_new_tokens)
    folder = args.examples
    if folder is None:
        folder = default_example_folder()
        if not (folder / "test.csv").is_file():
            print("cdreasoning demo: making a small synthetic set for the examples", file=sys.stderr)
            folder = make_example_set(uploads.root / "examples")
    examples = example_pairs(folder)
    page = DemoPage(analyzer, uploads, examples, model_name=str(model_path), max_side=args.max_side)
    blocks = page.build()
    print(
        f"cdreasoning demo: serving on http://{args.host}:{args.port} (Ctrl-C stops it; uploads stay in "
        f"{uploads.root}, removed at exit)",
        file=sys.stderr,
    )
    try:
        blocks.launch(
            server_name=args.host,
            server_port=args.port,
            allowed_paths=[str(Path(folder).resolve())],
            ssr_mode=False,
            footer_links=["api"],
            quiet=True,
            show_error=False,
            max_file_size=MAX_UPLOAD,
        )
    except KeyboardInterrupt:
        pass
    finally:
        blocks.close()
    return 0
