from ocrgate.cli import app

app(prog_name="ocrgate")
