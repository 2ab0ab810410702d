from panels.registry import all_panels
from studio.plugins import PluginHost


def test_panel_registry_lists_built_panels_in_order():
    names = [p.name for p in all_panels(PluginHost(load_entry_points=False))]
    assert names[0] == "Home"
    assert len(names) == len(set(names))


def test_shell_serves_sidebar_and_welcome(project, serve_app, page):
    url = serve_app(project)
    page.goto(url)
    page.wait_for_selector("#studio-nav")
    page.get_by_text("Welcome to Flywheel Studio").wait_for()
    assert page.locator("#studio-sidebar").is_visible()
    assert not page.console_errors.errors(), page.console_errors
