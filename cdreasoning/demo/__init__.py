"""The local web page (`cdreasoning demo`): drop two photographs, see their colour difference scored, explained
and mapped. Built with Gradio (the optional extra `demo`: `pip install -e ".[demo]"`).

    uploads   check and normalise uploaded files inside a temporary folder (no Gradio needed)
    analysis  one pair through CDScorer, the CIE baselines, CD-Flow and the ΔE00 map (no Gradio needed)
    examples  example pairs from the synthetic set
    render    the text, tables and pictures the page shows (no Gradio needed)
    app       the Gradio page (imports gradio)
    cli       `cdreasoning demo` (imports gradio only when it starts the server)
"""
