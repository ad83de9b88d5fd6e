-- Mall mode, cancellation of lines: a vendor cancels its own unshipped lines, the mall any
-- (docs/MALL.md). A canceled line stays on the order with when and why; its units went back,
-- and the reservations it consumed say so, so a later cancellation of the whole order returns
-- only what is still out.

ALTER TABLE order_items
  ADD COLUMN canceled_at   timestamptz,
  ADD COLUMN cancel_reason text;
UPDATE order_items oi SET canceled_at = o.canceled_at, cancel_reason = o.cancel_reason
  FROM orders o WHERE o.id = oi.order_id AND o.status = 'canceled';

ALTER TABLE inventory_reservations ADD COLUMN restocked_at timestamptz;
UPDATE inventory_reservations r SET restocked_at = o.canceled_at
  FROM orders o WHERE o.id = r.order_id AND o.status = 'canceled' AND r.status = 'consumed';
