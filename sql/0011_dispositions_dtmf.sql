-- Dispositions an agent can give from the phone's keypad during wrap-up, and the
-- delay of a callback given that way (a keypad cannot enter a time).
--
-- dtmf_key: the keys the agent presses (then #, or alone when no other key starts
-- with them); NULL: API only.
-- callback_delay_s: a callback disposition given by DTMF schedules the callback
-- this many seconds later (the API needs an explicit time). The callback is still
-- dialed only inside the calling window and never to a do-not-call number.
ALTER TABLE dispositions
    ADD COLUMN dtmf_key text UNIQUE CHECK (dtmf_key ~ '^[0-9]{1,2}$'),
    ADD COLUMN callback_delay_s integer NOT NULL DEFAULT 7200 CHECK (callback_delay_s > 0);

UPDATE dispositions SET dtmf_key = k.key
FROM (VALUES ('sale', '1'), ('not_interested', '2'), ('callback', '3'),
             ('do_not_call', '4'), ('wrong_number', '5'), ('left_message', '6')) AS k(code, key)
WHERE dispositions.code = k.code;
