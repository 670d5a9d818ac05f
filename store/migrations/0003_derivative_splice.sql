-- 0003_derivative_splice: a derivative may be a splice. Its blob then holds
-- only a head (for the location-free copy of a JPEG: the rewritten header),
-- and the derivative's bytes are that head followed by src_length bytes of
-- the media's original from src_offset on (the compressed pixels, which
-- stripping copies verbatim). size and crc32 keep describing the blob, so
-- every blob check stays as it was; out_crc32 is the CRC-32 of the whole
-- spliced file (size + src_length bytes), which ZIPs are laid out from.
-- Storing a head instead of a second full copy halves the disk a camera
-- JPEG takes.
ALTER TABLE derivatives ADD COLUMN src_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE derivatives ADD COLUMN src_length INTEGER NOT NULL DEFAULT 0;
ALTER TABLE derivatives ADD COLUMN out_crc32 INTEGER NOT NULL DEFAULT 0;
