"""`python -m cloudwarden.host run|enroll|status|replay`: the agent commands without loading the rest of the
CLI (AWS SDK, server, compliance), which keeps a long-running agent's memory small."""

from cloudwarden.cli.agent import app

if __name__ == "__main__":
    app(prog_name="cloudwarden-agent")
