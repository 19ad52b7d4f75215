-- Bulk imports write a million numbers at a time: check each number's contact
-- and list with one foreign key (list_id, contact_id) instead of two.

ALTER TABLE contacts ADD CONSTRAINT contacts_list_id_id_key UNIQUE (list_id, id);
DROP INDEX contacts_list;

ALTER TABLE phone_numbers
    DROP CONSTRAINT phone_numbers_contact_id_fkey,
    DROP CONSTRAINT phone_numbers_list_id_fkey,
    ADD CONSTRAINT phone_numbers_contact_fkey FOREIGN KEY (list_id, contact_id)
        REFERENCES contacts (list_id, id) ON DELETE CASCADE;
