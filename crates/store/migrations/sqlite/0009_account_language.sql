-- The language a person chose for the interface (a BCP 47 tag such as `zh-CN`), kept on the
-- account so that it follows them to any browser; NULL: the browser's preference decides.
ALTER TABLE accounts ADD COLUMN language TEXT;
