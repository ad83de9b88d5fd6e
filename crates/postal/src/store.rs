//! The postal table an operator loaded (`tenpo postal update FILE`), kept in the database
//! (`postal_codes`, `postal_source`; not tenant data). When present it replaces the compiled-in
//! table in every server started after the update.

use sqlx::PgPool;

use crate::{Place, Table};

/// Replaces the stored table with `places`, in one transaction.
pub async fn replace(pool: &PgPool, source: &str, places: &[Place]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM postal_codes").execute(&mut *tx).await?;
    sqlx::query("DELETE FROM postal_source").execute(&mut *tx).await?;
    for (chunk_no, chunk) in places.chunks(5000).enumerate() {
        let seq: Vec<i32> = (0..chunk.len()).map(|i| (chunk_no * 5000 + i) as i32).collect();
        let col = |f: fn(&Place) -> &str| chunk.iter().map(|p| f(p).to_string()).collect::<Vec<String>>();
        sqlx::query(
            "INSERT INTO postal_codes (seq, code, prefecture_code, city, city_kana, town, town_kana)
             SELECT * FROM UNNEST($1::int[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::text[])",
        )
        .bind(seq)
        .bind(col(|p| &p.code))
        .bind(chunk.iter().map(|p| p.prefecture_code as i16).collect::<Vec<i16>>())
        .bind(col(|p| &p.city))
        .bind(col(|p| &p.city_kana))
        .bind(col(|p| &p.town))
        .bind(col(|p| &p.town_kana))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("INSERT INTO postal_source (source, places) VALUES ($1, $2)")
        .bind(source)
        .bind(places.len() as i32)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The stored table, if an operator loaded one.
pub async fn load(pool: &PgPool) -> Result<Option<Table>, sqlx::Error> {
    let Some(source): Option<String> =
        sqlx::query_scalar("SELECT source FROM postal_source").fetch_optional(pool).await?
    else {
        return Ok(None);
    };
    let rows: Vec<(String, i16, String, String, String, String)> = sqlx::query_as(
        "SELECT code, prefecture_code, city, city_kana, town, town_kana FROM postal_codes ORDER BY code, seq",
    )
    .fetch_all(pool)
    .await?;
    let places: Vec<Place> = rows
        .into_iter()
        .map(|(code, prefecture_code, city, city_kana, town, town_kana)| Place {
            code,
            prefecture_code: prefecture_code as u8,
            city,
            city_kana,
            town,
            town_kana,
        })
        .collect();
    Ok(Some(Table::from_places(source, &places)))
}
