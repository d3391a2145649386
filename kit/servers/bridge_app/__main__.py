"""`python -m kit.servers.bridge_app --upstream URL`."""

from kit.servers.bridge_app.app import main

main()
