-- Inbound calls look contacts up by their external id (CRM key); most imports
-- carry none, so only rows that have one are indexed.

CREATE INDEX contacts_external_id ON contacts (external_id) WHERE external_id IS NOT NULL;
