-- A session's flash notice: the key of the one-line notice that the
-- session's next page shows (and clears), set by the action that redirects
-- to it. It lives in the database rather than in the URL, so that a link
-- cannot make a page claim what did not happen, a reload does not repeat
-- it, and any replica can show it. NULL when no notice is waiting.
ALTER TABLE sessions ADD COLUMN flash TEXT;
