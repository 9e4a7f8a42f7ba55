"""The HTTP routes of every domain. They sit above the domains they call, so a route
may compose several of them (an OAuth callback connects, then starts the first sync)."""
