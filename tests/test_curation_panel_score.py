"""The Curate panel's score check and weights: Spearman with duration, validation against
good/bad tags, cross-validated weight fitting, weights saved per dataset."""

from __future__ import annotations

import quality_sets as qs

from studio.curation import tags
from studio.curation.score import project_weights
from studio.datasets import open_dataset


def test_curate_panel_checks_the_score_and_fits_weights_from_tags(project, serve_app, page):
    root = project.datasets_dir / "graded"
    labels = qs.graded_operators(root, per_operator=4, seed=3)
    ds = open_dataset(root)
    url = serve_app(project)
    page.goto(url + "?panel=Curate")
    page.wait_for_selector("#curate-dataset", timeout=120_000)
    page.locator("#curate-dataset input").fill(str(root))
    page.locator("#curate-dataset input").press("Enter")
    page.click("#curate-load")
    check = page.locator("#curate-score-check")
    check.get_by_text("Spearman correlation of quality_score with duration").wait_for(timeout=90_000)
    assert "Tag episodes" in check.inner_text()

    # too few labels: fitting is refused with a visible sentence
    tags.add_tags(project, ds, labels[labels["good"] == 1]["episode_index"].head(2).tolist(), "good")
    tags.add_tags(project, ds, labels[labels["good"] == 0]["episode_index"].head(3).tolist(), "bad")
    page.get_by_text("Quality score weights").click()
    page.locator("#curate-fit-weights").wait_for()
    page.click("#curate-fit-weights")
    page.get_by_text("at least 10 labelled episodes").first.wait_for(timeout=30_000)

    # enough labels: the held-out AUROC is shown and the weights box holds the fit
    tags.add_tags(project, ds, labels[labels["good"] == 1]["episode_index"].tolist(), "good")
    tags.add_tags(project, ds, labels[labels["good"] == 0]["episode_index"].head(12).tolist(), "bad")
    page.click("#curate-apply")
    check.get_by_text("Against your tags").wait_for(timeout=60_000)
    assert "−length baseline" in check.inner_text() and "score AUROC" in check.inner_text()
    page.click("#curate-fit-weights")
    page.locator("#curate-fit-status").get_by_text("held-out AUROC").wait_for(timeout=60_000)
    fitted = page.locator("#curate-weights textarea").input_value()
    assert "tremor=" in fitted and "curator_tag" not in fitted

    page.click("#curate-save-weights")
    page.locator("#curate-fit-status").get_by_text("Weights saved for").wait_for(timeout=30_000)
    saved = project_weights(project, ds)
    assert saved and set(saved) <= {w.split("=")[0].strip() for w in fitted.split(",")}
    assert project_weights(project) == {}  # saved for this dataset, not the whole project
