-- 0002_content_version: a per-album counter bumped by triggers whenever what a
-- gallery shows can change (media added, removed or updated; derivatives
-- made or replaced). Public handlers read it in the same point query as the
-- share row on every request, so a rendered gallery can be reused exactly as
-- long as nothing it depends on has changed.
ALTER TABLE albums ADD COLUMN content_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER media_bump_insert AFTER INSERT ON media BEGIN
  UPDATE albums SET content_version = content_version + 1 WHERE id = NEW.album_id;
END;
CREATE TRIGGER media_bump_delete AFTER DELETE ON media BEGIN
  UPDATE albums SET content_version = content_version + 1 WHERE id = OLD.album_id;
END;
CREATE TRIGGER media_bump_update AFTER UPDATE ON media BEGIN
  UPDATE albums SET content_version = content_version + 1 WHERE id IN (OLD.album_id, NEW.album_id);
END;
CREATE TRIGGER derivative_bump_insert AFTER INSERT ON derivatives BEGIN
  UPDATE albums SET content_version = content_version + 1 WHERE id = (SELECT album_id FROM media WHERE id = NEW.media_id);
END;
CREATE TRIGGER derivative_bump_delete AFTER DELETE ON derivatives BEGIN
  UPDATE albums SET content_version = content_version + 1 WHERE id = (SELECT album_id FROM media WHERE id = OLD.media_id);
END;
