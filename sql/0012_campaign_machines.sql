-- What a campaign does when answering-machine detection finds a machine: hang up,
-- or wait for the beep and leave the campaign's message.
ALTER TABLE campaigns
    ADD COLUMN machine_action text NOT NULL DEFAULT 'hangup'
        CHECK (machine_action IN ('hangup', 'message'));
