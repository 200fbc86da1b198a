from herald.cli.main import app

app()
