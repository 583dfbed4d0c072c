from cloudwarden.cli.main import app

app()
