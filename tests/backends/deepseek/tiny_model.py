"""A tiny, randomly initialised DeepSeek-OCR 2 (transformers' native `deepseek_ocr2` classes) on disk.

Everything is built here, nothing is downloaded: the real `DeepseekOcr2Config` with small sizes, a
byte-level BPE tokenizer trained on a few sentences plus the model's special tokens (wrapped in
`TokenizersBackend`, the class transformers maps `deepseek_ocr2` to), and a `DeepseekOcr2Processor`
with a small `DeepseekOcr2ImageProcessorPil`. The directory loads like a released checkpoint.

Geometry: DeepSeek-OCR 2's vision tower has learned queries for two view sizes only (144 = 12x12
for a 768 px tile, 256 = 16x16 for the 1024 px global view); a view's size/(patch*4) must be 12 or
16. The tiny model keeps those counts with SAM patches of 4 px: a 256 px global view and 192 px
tiles, so the processor's token arithmetic and the model's features agree as in the real model.

`save_model_dir` is shared with `bench/deepseek_gpu.py`, which writes the full-size architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel, TokenizersBackend

BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
#: the tokens the prompts and the grounding output use; `<image>` is the processor's image token
MODEL_TOKENS = ["<image>", "<|grounding|>", "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>"]

TRAINING_TEXT = [
    "Convert the document to markdown.",
    "Free OCR. Parse the figure. Describe this image in detail.",
    "The quick brown fox jumps over the lazy dog 0123456789.",
    "# Title\n\nA paragraph of text, with a table | a | b | and a list - one - two.",
    "Locate the phrase in the image: [[10, 20, 300, 400]]",
]

#: the tiny sizes: seconds on a CPU, same structure as the released model
TINY_IMAGE_SIZE = 256  # the global view (1024 in the released model)
TINY_TILE_SIZE = 192  # local tiles (768)
TINY_PATCH = 4  # SAM patch (16)


def _wrap(tokenizer: Any) -> TokenizersBackend:
    from transformers import TokenizersBackend

    return TokenizersBackend(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        padding_side="left",
        extra_special_tokens={"image_token": "<image>"},
    )


def build_tokenizer() -> TokenizersBackend:
    """A byte-level BPE over TRAINING_TEXT: bos/eos/pad are ids 0/1/2, then MODEL_TOKENS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=[BOS, EOS, PAD, *MODEL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_TEXT, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, 0)]
    )
    return _wrap(tokenizer)


def build_id_tokenizer(vocab_size: int, fixed: Mapping[str, int]) -> TokenizersBackend:
    """A word-level tokenizer of exactly `vocab_size` ids with `fixed` tokens at given ids (bench:
    random weights only need the released vocabulary size and the special tokens' ids)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = {f"w{i}": i for i in range(vocab_size)}
    for token, index in fixed.items():
        vocab.pop(f"w{index}", None)
        vocab[token] = index
    unk = next(t for t in vocab if t.startswith("w"))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(" ", behavior="removed")
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.add_special_tokens([BOS, EOS, PAD, *MODEL_TOKENS])
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, fixed[BOS])]
    )
    return _wrap(tokenizer)


def tiny_config(tokenizer: TokenizersBackend) -> Any:
    from transformers import DeepseekOcr2Config

    vision = {
        "sam_config": {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": TINY_IMAGE_SIZE,
            "patch_size": TINY_PATCH,
            "output_channels": 16,
            "downsample_channels": [32, 64],
            "window_size": 8,
            "global_attn_indexes": [1],
        },
        "encoder_config": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 16,
            "max_position_embeddings": 1024,
        },
    }
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "moe_intermediate_size": 32,
        "n_routed_experts": 4,
        "n_shared_experts": 1,
        "num_experts_per_tok": 2,
        "mlp_layer_types": ["dense", "sparse"],
        "max_position_embeddings": 4096,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    return DeepseekOcr2Config(
        vision_config=vision, text_config=text, image_token_id=tokenizer.convert_tokens_to_ids("<image>")
    )


def save_model_dir(
    path: Path,
    model: PreTrainedModel,
    tokenizer: TokenizersBackend,
    image_size: int,
    tile_size: int,
    patch_size: int,
) -> Path:
    """Model weights + config, and the processor (image processor + tokenizer) in one directory."""
    from transformers import DeepseekOcr2ImageProcessorPil, DeepseekOcr2Processor

    path.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path)
    image_processor = DeepseekOcr2ImageProcessorPil(
        size={"height": image_size, "width": image_size}, tile_size=tile_size
    )
    processor = DeepseekOcr2Processor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=patch_size, downsample_ratio=4
    )
    processor.save_pretrained(path)
    return path


def build_tiny_model(path: Path, seed: int = 0) -> Path:
    """Write the tiny model, its tokenizer and processor to `path`; returns `path`."""
    import torch
    from transformers import DeepseekOcr2ForConditionalGeneration

    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    model = DeepseekOcr2ForConditionalGeneration(tiny_config(tokenizer)).eval()
    return save_model_dir(path, model, tokenizer, TINY_IMAGE_SIZE, TINY_TILE_SIZE, TINY_PATCH)
