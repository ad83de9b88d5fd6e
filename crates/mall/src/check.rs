//! Statements' part of `tenpo check`, over the transaction's tenant: each statement adds up
//! (sales + carried in = commission + its tax + fee + net + carried out), says what its lines
//! add up to, holds the tax its sales and commission contain, carries in what the vendor's
//! previous statement carried out, and is numbered 1, 2, ... without gaps; a line is counted
//! only for its own vendor, and given back only after it was counted. (That a line counts at
//! most once per kind is the lines' primary key.)

use db::Tx;
use kernel::consistency::{Checked, Violation};

pub async fn statements(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let checked: i64 = sqlx::query_scalar("SELECT count(*) FROM vendor_statements").fetch_one(&mut **tx).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "WITH sums AS (SELECT statement_id, sum(sales_10) AS s10, sum(sales_8) AS s8, sum(commission) AS c
                         FROM vendor_statement_lines GROUP BY statement_id),
              chain AS (SELECT number, carried_in_amount,
                               lag(carried_out_amount) OVER (PARTITION BY vendor_id ORDER BY number) AS prev_out
                          FROM vendor_statements),
              numbered AS (SELECT number, row_number() OVER (ORDER BY number) AS n FROM vendor_statements)
         SELECT 'statement ' || s.number,
                'sales ' || (s.sales_10 + s.sales_8) || ' + carried in ' || s.carried_in_amount || ' <> commission '
                || s.commission_amount || ' + its tax ' || s.commission_tax_amount || ' + fee ' || s.transfer_fee_amount
                || ' + net ' || s.net_amount || ' + carried out ' || s.carried_out_amount
           FROM vendor_statements s
          WHERE s.sales_10 + s.sales_8 + s.carried_in_amount
                <> s.commission_amount + s.commission_tax_amount + s.transfer_fee_amount + s.net_amount + s.carried_out_amount
         UNION ALL
         SELECT 'statement ' || s.number,
                'its lines add up to sales ' || coalesce(x.s10, 0) || ' (10%), ' || coalesce(x.s8, 0) || ' (8%), commission '
                || coalesce(x.c, 0) || '; it says ' || s.sales_10 || ', ' || s.sales_8 || ', ' || s.commission_amount
           FROM vendor_statements s LEFT JOIN sums x ON x.statement_id = s.id
          WHERE (coalesce(x.s10, 0), coalesce(x.s8, 0), coalesce(x.c, 0)) <> (s.sales_10, s.sales_8, s.commission_amount)
         UNION ALL
         SELECT 'statement ' || s.number, 'tax ' || s.tax_10 || ' (10%), ' || s.tax_8 || ' (8%), commission tax '
                || s.commission_tax_amount || ' are not what its sales and commission contain'
           FROM vendor_statements s
          WHERE s.tax_10 <> s.sales_10 * 10 / 110 OR s.tax_8 <> s.sales_8 * 8 / 108
             OR s.commission_tax_amount <> s.commission_amount / 10
         UNION ALL
         SELECT 'statement ' || c.number,
                'carried in ' || c.carried_in_amount || ', the vendor''s previous statement carried out ' || coalesce(c.prev_out, 0)
           FROM chain c WHERE c.carried_in_amount <> coalesce(c.prev_out, 0)
         UNION ALL
         SELECT 'statement ' || n.number, 'numbered ' || n.number || ', the tenant''s statement ' || n.n
           FROM numbered n WHERE n.number <> n.n
         UNION ALL
         SELECT 'order line ' || l.order_item_id, 'counted on statement ' || s.number || ', of another vendor'
           FROM vendor_statement_lines l JOIN vendor_statements s ON s.id = l.statement_id
           JOIN order_items oi ON oi.id = l.order_item_id
          WHERE oi.vendor_id <> s.vendor_id
         UNION ALL
         SELECT 'order line ' || r.order_item_id, 'given back on statement ' || s.number || ' but never counted'
           FROM vendor_statement_lines r JOIN vendor_statements s ON s.id = r.statement_id
          WHERE r.kind = 'reversal'
            AND NOT EXISTS (SELECT 1 FROM vendor_statement_lines x WHERE x.order_item_id = r.order_item_id AND x.kind = 'sale')
         ORDER BY 1",
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(Checked::new(checked, rows.into_iter().map(|(s, d)| Violation::new(s, d)).collect()))
}
