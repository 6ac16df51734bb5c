"""The dashboard's fixed labels have an English entry: every Chinese string in its modules that speak
through i18n.js and every translated element of its page is a key of static/i18n_en.js (a missing one
would show Chinese on an English site)."""

from __future__ import annotations

import re
from pathlib import Path

from serving.dashboard import STATIC_DIR

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
NOT_LABELS = {"、", "；"}  # list separators and the driver splitter, not words


def english_keys() -> set[str]:
    text = (STATIC_DIR / "i18n_en.js").read_text(encoding="utf-8")
    return set(re.findall(r'^\s*"((?:[^"\\]|\\.)*)":', text, flags=re.MULTILINE))


def chinese_strings(path: Path) -> set[str]:
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        code = re.sub(r"(^|\s)//.*$", "", line)  # comments may be Chinese
        found.update(s for s in STRING.findall(code) if CJK.search(s))
    return found - NOT_LABELS


def translated_in_page() -> set[str]:
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    texts = {m.strip() for m in re.findall(r"<\w+[^>]*\bdata-i18n(?![-\w])[^>]*>([^<]*)(?=<)", page)}
    for tag in re.findall(r"<\w+[^>]*\bdata-i18n-attr=\"[^\"]+\"[^>]*>", page):
        names = re.search(r'data-i18n-attr="([^"]+)"', tag).group(1).split()
        texts.update(re.search(rf'\b{name}="([^"]*)"', tag).group(1) for name in names)
    return texts


def test_every_chinese_label_has_an_english_entry():
    keys = english_keys()
    scripts = sorted(
        path for path in STATIC_DIR.glob("*.js") if "./i18n.js" in path.read_text(encoding="utf-8")
    )
    assert len(scripts) >= 10  # every view module speaks through t()
    missing = {path.name: sorted(chinese_strings(path) - keys) for path in scripts}
    missing["index.html"] = sorted(translated_in_page() - keys)
    assert {name: labels for name, labels in missing.items() if labels} == {}


def test_the_check_finds_labels():
    assert {"风险类型", "一级分类"} <= chinese_strings(STATIC_DIR / "overview.js") | chinese_strings(
        STATIC_DIR / "playground.js"
    )
    assert {
        "风险总览",
        "放大全部文字（适老化）",
        "例如：楼道里堆满杂物，消防通道被堵死了",
    } <= translated_in_page()
