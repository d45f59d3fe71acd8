"""Backend `mineru`: MinerU (mineru-api or in-process) -> MinerU's content list -> our blocks."""
