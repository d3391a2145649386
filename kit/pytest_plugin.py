"""pytest plugin of the kit (entry point `kit`): options, fixtures and notebook items."""
