-- A booking paid by hand is undone only by hand (issue 13): it must not keep the transaction that
-- paid it before. A booking paid by T, refunded by hand and then paid by hand again still had
-- paid_transaction_id = T, so a late confirmed chargeback (or deny, cancel, refund) of T undid
-- the admin's payment and freed its link.

create or replace function public.bookings_keep_payment_rules()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.payment_status = 'paid' then
    new.paid_at := coalesce(new.paid_at, now());
    -- Becoming paid without naming a new paying transaction (by hand): no transaction paid it
    -- this time, so none may undo it. The webhook names the one it applies; should that be the
    -- one that paid before an undo by hand, the booking counts as paid by hand too.
    if tg_op = 'UPDATE' and old.payment_status <> 'paid'
       and coalesce(new.paid_transaction_id, '') = coalesce(old.paid_transaction_id, '') then
      new.paid_transaction_id := null;
    end if;
  elsif tg_op = 'UPDATE' and old.payment_status = 'paid' then
    -- A booking that stops being paid gives its slot on the link back.
    new.meeting_link_id := null;
  end if;
  if new.meeting_link_id is not null or new.payment_status <> 'paid' then
    new.needs_manual_link := false;
  end if;
  return new;
end;
$$;
comment on function public.bookings_keep_payment_rules() is
  'Trigger: a paid booking has paid_at; one that becomes paid without a new paid_transaction_id '
  '(by hand) has none, so only an admin undoes it; one that stops being paid lets go of its link; '
  'a booking with a link is not waiting for one.';
