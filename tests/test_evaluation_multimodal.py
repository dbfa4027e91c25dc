"""Tests for ipaclip.evaluation.multimodal: caption/image retrieval and zero-shot classification."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image

from ipaclip import IPATransformer
from ipaclip.evaluation.multimodal import (
    load_image_folder,
    multimodal_retrieval,
    zero_shot_classify,
)
from ipaclip.evaluation.respell import fuse_embeddings
from tests.fixtures import tiny_clip_image_encoder, tiny_clip_text_encoder


def unit(deg: float) -> list[float]:
    rad = np.deg2rad(deg)
    return [float(np.cos(rad)), float(np.sin(rad))]


def table_embed(table, calls=None):
    def embed(xs):
        if calls is not None:
            calls.append(list(xs))
        return np.array([table[x] for x in xs])

    return embed


# --------------------------------------------------------------------------------------------
# retrieval with hand-computed ranks
# --------------------------------------------------------------------------------------------
IMAGES = np.array([unit(0), unit(120), unit(240)])
CAPTIONS = ["c0", ["c1a", "c1b"], "c2"]
# Caption angles: c0 10°, c1a 170°, c1b 200°, c2 50°.
TEXT = {"c0": unit(10), "c1a": unit(170), "c1b": unit(200), "c2": unit(50)}


def test_text_retrieval_hand_computed():
    out = multimodal_retrieval(IMAGES, CAPTIONS, embed_text=table_embed(TEXT), ks=(1, 2))
    text = out["text"]
    # caption -> image: ranks of the own image 1 (c0), 1 (c1a), 2 (c1b), 3 (c2)
    assert text["to_image_recall@1"] == pytest.approx(0.5)
    assert text["to_image_recall@2"] == pytest.approx(0.75)
    assert text["to_image_mrr"] == pytest.approx((1 + 1 + 1 / 2 + 1 / 3) / 4)
    # image -> caption: image 0 finds c0 first; image 1 ranks c1a, c2, c1b, c0;
    # image 2 ranks c1b, c1a, c0, c2 (its caption c2 is 4th).
    assert text["to_caption_recall@1"] == pytest.approx(2 / 3)
    assert text["to_caption_recall@2"] == pytest.approx(2 / 3)
    assert text["to_caption_mrr"] == pytest.approx((1 + 1 + 1 / 4) / 3)
    assert text["to_caption_map"] == pytest.approx((1 + (1 + 2 / 3) / 2 + 1 / 4) / 3)
    assert out["n_images"] == 3 and out["n_captions"] == 4
    assert set(out) == {"n_images", "n_captions", "fuse_weight", "text"}
    json.dumps(out)


def test_pron_and_fused_queries():
    ipa = {"c0": "/0/", "c1a": "/1a/", "c1b": "/1b/", "c2": "/2/"}
    # The pronunciation embedding points exactly at each caption's image.
    pron = {"/0/": unit(0), "/1a/": unit(120), "/1b/": unit(120), "/2/": unit(240)}
    calls: list = []

    def to_ipa(xs):
        calls.append(list(xs))
        return [ipa[x] for x in xs]

    out = multimodal_retrieval(
        IMAGES,
        CAPTIONS,
        embed_text=table_embed(TEXT),
        embed_pronunciation=table_embed(pron),
        g2p=to_ipa,
        ks=(1,),
        fuse_weight=1.0,
    )
    assert calls == [["c0", "c1a", "c1b", "c2"]]  # captions flattened in image order
    assert out["pronunciation"]["to_image_recall@1"] == 1.0
    assert out["pronunciation"]["to_caption_recall@1"] == 1.0
    assert out["fused"] == out["pronunciation"]  # fuse_weight=1 is the pronunciation query
    out0 = multimodal_retrieval(
        IMAGES,
        CAPTIONS,
        embed_text=table_embed(TEXT),
        embed_pronunciation=table_embed(pron),
        g2p=to_ipa,
        ks=(1,),
        fuse_weight=0.0,
    )
    assert out0["fused"] == out0["text"]


def test_retrieval_errors():
    with pytest.raises(ValueError, match="captions has 2 items but image_emb 3"):
        multimodal_retrieval(IMAGES, CAPTIONS[:2], embed_text=table_embed(TEXT))
    with pytest.raises(ValueError, match="Image 1 has no caption"):
        multimodal_retrieval(IMAGES, ["c0", [], "c2"], embed_text=table_embed(TEXT))
    with pytest.raises(TypeError, match="Captions of image 2"):
        multimodal_retrieval(IMAGES, ["c0", "c1a", [3]], embed_text=table_embed(TEXT))
    with pytest.raises(ValueError, match="same CLIP space"):
        multimodal_retrieval(IMAGES, CAPTIONS, embed_text=lambda xs: np.ones((len(xs), 3)))
    with pytest.raises(ValueError, match="pass g2p="):
        multimodal_retrieval(IMAGES, CAPTIONS, embed_pronunciation=table_embed(TEXT))
    with pytest.raises(ValueError, match="at least one"):
        multimodal_retrieval(IMAGES, CAPTIONS)


# --------------------------------------------------------------------------------------------
# zero-shot classification
# --------------------------------------------------------------------------------------------
def make_folder(root, layout: dict[str, dict[str, tuple[int, int, int]]]):
    """Write 32x32 PNGs: {class folder: {file name: RGB colour}}."""
    for cls, files in layout.items():
        (root / cls).mkdir(parents=True)
        for name, colour in files.items():
            Image.new("RGB", (32, 32), colour).save(root / cls / name)
    return root


LAYOUT = {
    "golden_retriever": {"a.png": (200, 150, 50), "b.png": (190, 140, 60)},
    "tabby": {"c.png": (90, 90, 90)},
    "zebra": {"d.PNG": (255, 255, 255)},
}
# Image embeddings by file name, prompt embeddings by class (angles).
PICTURES = {"a.png": unit(0), "b.png": unit(100), "c.png": unit(120), "d.PNG": unit(240)}
PROMPTS = {
    "a photo of a golden retriever": unit(0),
    "a photo of a tabby": unit(90),
    "a photo of a zebra": unit(210),
}


def picture_encoder(paths):
    return np.array([PICTURES[p.rsplit("/", 1)[-1]] for p in paths])


def test_load_image_folder(tmp_path, caplog):
    root = make_folder(tmp_path / "imgs", LAYOUT)
    (root / "tabby" / "notes.txt").write_text("not an image")
    with caplog.at_level(logging.WARNING):
        paths, labels, classes = load_image_folder(root)
    assert classes == ["golden_retriever", "tabby", "zebra"]
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["a.png", "b.png", "c.png", "d.PNG"]
    assert labels == [0, 0, 1, 2]
    assert "Skipped 1 files" in caplog.text


def test_zero_shot_folder_hand_computed(tmp_path):
    root = make_folder(tmp_path / "imgs", LAYOUT)
    calls: list = []
    out = zero_shot_classify(
        root, picture_encoder, embed_text=table_embed(PROMPTS, calls), ks=(1, 2)
    )
    assert calls == [list(PROMPTS)]  # underscores read as spaces, folder order
    assert out["class_names"] == ["golden retriever", "tabby", "zebra"]
    # a@0°: retriever ✓. b@100°: tabby (10°), retriever (100°), zebra (110°): rank 2.
    # c@120°: tabby (30°), zebra (90°), retriever: rank 1 ✓. d@240°: zebra ✓.
    assert out["text"] == pytest.approx({"top1": 3 / 4, "top2": 1.0})
    assert out["n_images"] == 4 and out["n_classes"] == 3
    json.dumps(out)


def test_zero_shot_class_names_and_template(tmp_path):
    root = make_folder(tmp_path / "imgs", LAYOUT)
    calls: list = []
    embed = table_embed({f"{n}!": v for n, v in zip(["dog", "cat", "zebra"], PROMPTS.values())})
    out = zero_shot_classify(
        root,
        picture_encoder,
        embed_text=table_embed({"dog!": unit(0), "cat!": unit(90), "zebra!": unit(210)}, calls),
        class_names={"golden_retriever": "dog", "tabby": "cat"},
        template="{}!",
        ks=(1,),
    )
    assert calls == [["dog!", "cat!", "zebra!"]]
    assert out["text"]["top1"] == pytest.approx(3 / 4)
    out = zero_shot_classify(
        root, picture_encoder, embed_text=embed, class_names=["dog", "cat", "zebra"], template="{}!"
    )
    assert out["class_names"] == ["dog", "cat", "zebra"]
    with pytest.raises(ValueError, match="'husky', which is not a subfolder"):
        zero_shot_classify(root, picture_encoder, embed_text=embed, class_names={"husky": "dog"})
    with pytest.raises(ValueError, match="2 names but"):
        zero_shot_classify(root, picture_encoder, embed_text=embed, class_names=["dog", "cat"])
    with pytest.raises(ValueError, match="template"):
        zero_shot_classify(root, picture_encoder, embed_text=embed, template="a photo")


def test_zero_shot_list_of_images_with_labels():
    pictures = {"x": unit(0), "y": unit(100)}
    out = zero_shot_classify(
        ["x", "y", "x"],
        table_embed(pictures),
        embed_text=table_embed({"a photo of a dog": unit(0), "a photo of a cat": unit(90)}),
        class_names=["dog", "cat"],
        labels=["dog", 1, "cat"],
        ks=(1,),
    )
    assert out["text"]["top1"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="Label 'cow' of image 0"):
        zero_shot_classify(["x"], table_embed(pictures), class_names=["dog"], labels=["cow"])
    with pytest.raises(ValueError, match="Label 5 of image 0"):
        zero_shot_classify(["x"], table_embed(pictures), class_names=["dog"], labels=[5])
    with pytest.raises(ValueError, match="pass class_names and labels"):
        zero_shot_classify(["x"], table_embed(pictures))


def test_zero_shot_with_tiny_clip_matches_direct_computation(tmp_path):
    """End to end on real PNGs with the tiny open_clip towers (random weights)."""
    colours = {
        "red_fox": {"1.png": (220, 30, 30), "2.png": (200, 60, 40)},
        "blue_jay": {"3.png": (30, 40, 220)},
        "green_frog": {"4.png": (30, 200, 40), "5.png": (60, 220, 90)},
    }
    root = make_folder(tmp_path / "imgs", colours)
    image_encoder = tiny_clip_image_encoder()
    text_encoder = tiny_clip_text_encoder()
    g2p = IPATransformer()
    out = zero_shot_classify(
        root,
        image_encoder,
        embed_text=text_encoder.transform,
        embed_pronunciation=text_encoder.transform,
        g2p=g2p.fit_transform,
        ks=(1, 2),
    )
    paths, labels, _ = load_image_folder(root)
    prompts = [f"a photo of a {n}" for n in ["blue jay", "green frog", "red fox"]]
    img_emb = image_encoder.transform(paths)
    T = text_encoder.transform(prompts)
    P = text_encoder.transform(g2p.fit_transform(prompts))
    for name, Q in (("text", T), ("pronunciation", P), ("fused", fuse_embeddings(T, P))):
        S = img_emb @ Q.T
        order = np.argsort(-S, axis=1)
        top1 = np.mean(order[:, 0] == labels)
        top2 = np.mean([lab in row[:2] for lab, row in zip(labels, order)])
        assert out[name] == pytest.approx({"top1": top1, "top2": top2}), name
    # Retrieval on the same images with their class prompts as captions.
    report = multimodal_retrieval(
        img_emb, [prompts[c] for c in labels], embed_text=text_encoder.transform
    )
    assert 0.0 <= report["text"]["to_image_recall@1"] <= 1.0
    assert report["text"]["to_image_recall@10"] == 1.0  # only 5 images


def test_zero_shot_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zero_shot_classify(tmp_path / "missing", picture_encoder, embed_text=table_embed(PROMPTS))
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="no subfolders"):
        zero_shot_classify(tmp_path / "flat", picture_encoder, embed_text=table_embed(PROMPTS))
    with pytest.raises(TypeError, match="image_encoder"):
        root = make_folder(tmp_path / "imgs", LAYOUT)
        zero_shot_classify(root, 42, embed_text=table_embed(PROMPTS))


# --------------------------------------------------------------------------------------------
# MultimodalEvaluator
# --------------------------------------------------------------------------------------------
def test_multimodal_evaluator_is_zero_shot_classify_and_runs_by_name(tmp_path):
    from ipaclip.evaluation import MultimodalEvaluator, Queries, evaluate_model, registry
    from ipaclip.evaluation.evaluator import split_result

    root = make_folder(tmp_path / "imgs", LAYOUT)
    embed = table_embed(PROMPTS)
    queries = Queries(text=embed, g2p=list, embed_ipa=embed, fuse_weight=0.25)
    direct = zero_shot_classify(
        root,
        picture_encoder,
        embed_text=embed,
        embed_pronunciation=embed,
        g2p=list,
        fuse_weight=0.25,
    )
    # One template, as the direct call's default (the evaluator's default is the held-out
    # templates of prompt_split, checked in test_multimodal_evaluator_defaults_to_...).
    evaluator = MultimodalEvaluator(
        images=root, image_encoder=picture_encoder, template="a photo of a {}"
    )
    scores = evaluator(queries)
    assert scores["text/top1"] == direct["text"]["top1"] == 3 / 4
    assert scores == split_result({q: direct[q] for q in ("text", "pronunciation", "fused")})[0]
    assert evaluator.info_["info"]["class_names"] == ["golden retriever", "tabby", "zebra"]
    # Registered, not in the default suite, runnable by name when its data are given.
    assert "multimodal" in registry() and not registry()["multimodal"].default_suite
    res = evaluate_model(
        queries,
        "multimodal",
        images=root,
        image_encoder=picture_encoder,
        template="a photo of a {}",
        verbose=0,
    )
    assert res["multimodal"]["fused"]["top1"] == direct["fused"]["top1"]
    assert res["summary"]["multimodal: top-1 accuracy"]["text"] == 3 / 4
    with pytest.raises(ValueError, match="needs images= .*image_encoder="):
        MultimodalEvaluator()(queries)


# --------------------------------------------------------------------------------------------
# The prompt set of issue 19: several templates, the held-out ones of prompt_split
# --------------------------------------------------------------------------------------------
def test_zero_shot_with_several_templates_averages_each_class_prompts():
    pictures = {"x": unit(0), "y": unit(100)}
    # "!" alone puts each image nearer the wrong class; the mean of "!" and "?" of each class
    # points at 0° (dog) and 100° (cat).
    prompts = {"dog!": unit(60), "dog?": unit(-60), "cat!": unit(40), "cat?": unit(160)}
    calls: list = []
    kwargs = dict(class_names=["dog", "cat"], labels=["dog", "cat"], ks=(1,))
    one = zero_shot_classify(
        ["x", "y"], table_embed(pictures), embed_text=table_embed(prompts), template="{}!",
        **kwargs,
    )  # fmt: skip
    assert one["text"]["top1"] == 0.0
    both = zero_shot_classify(
        ["x", "y"], table_embed(pictures), embed_text=table_embed(prompts, calls),
        template=["{}!", "{}?"], **kwargs,
    )  # fmt: skip
    assert both["text"]["top1"] == 1.0
    assert calls == [["dog!", "cat!", "dog?", "cat?"]]  # template by template
    assert both["template"] == ["{}!", "{}?"]
    with pytest.raises(ValueError, match=r"'\{\}'.*'a photo' \(item 1\)"):
        zero_shot_classify(["x"], table_embed(pictures), embed_text=table_embed(prompts),
                           template=["{}!", "a photo"], **kwargs)  # fmt: skip
    with pytest.raises(ValueError, match="template is empty"):
        zero_shot_classify(["x"], table_embed(pictures), embed_text=table_embed(prompts),
                           template=[], **kwargs)  # fmt: skip


def test_multimodal_evaluator_defaults_to_the_held_out_templates_of_prompt_split():
    from ipaclip.datasets import prompt_split
    from ipaclip.evaluation import MultimodalEvaluator, Queries

    pictures = {"x": unit(0), "y": unit(100)}
    axes: dict[str, int] = {}
    calls: list = []

    def text(prompts):
        calls.append(list(prompts))
        X = np.zeros((len(prompts), 2))
        for i, p in enumerate(prompts):
            X[i] = unit(axes.setdefault(p, 7 * len(axes)))
        return X

    queries = Queries(text=text, g2p=list, embed_ipa=text)
    evaluator = MultimodalEvaluator(
        images=["x", "y"],
        image_encoder=table_embed(pictures),
        class_names=["dog", "cat"],
        labels=[0, 1],
        n_heldout_templates=4,
        random_state=3,
    )
    evaluator(queries)
    held = prompt_split(3, n_heldout_templates=4).heldout_templates
    assert calls[0] == [t.format(n) for t in held for n in ("dog", "cat")]
    assert evaluator.info_["info"]["template"] == list(held)
    assert held != prompt_split(4, n_heldout_templates=4).heldout_templates
