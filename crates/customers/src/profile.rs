//! Profiles: what one store knows of a customer (name, kana, contact, status, notes,
//! preferences). Staff of a store read and write only their store's profile.
//!
//! Every synced field (name, name_kana, email, phone and each top-level preference key as
//! `pref:<key>`) carries a stamp, (time, store), of the edit that produced its value; store
//! sync ([`crate::sync`]) uses the stamps to let the latest edit of each field win.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, ProfileId, StoreId, Validator, jp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::event::{CustomerProfileCreated, CustomerProfileUpdated, ProfileChange};
use crate::identity::{self, IdentityType, Key, Source};
use crate::{CustomersError, customer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ProfileStatus {
    Active,
    /// The store refuses this customer's orders (its own decision; other stores are unaffected).
    Blocked,
}

/// When and where the current value of a synced field was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    pub store: StoreId,
}

pub type Clock = BTreeMap<String, Stamp>;

/// A customer's profile in one store.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Profile {
    pub id: ProfileId,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub name: String,
    /// Katakana (hiragana and half-width katakana are converted on the way in).
    pub name_kana: String,
    /// Lower-case.
    pub email: Option<String>,
    /// E.164, e.g. +819012345678.
    pub phone: Option<String>,
    pub status: ProfileStatus,
    /// Staff notes; never leave this store (not synced).
    pub notes: Option<String>,
    /// Free-form JSON object (newsletter, delivery preferences...).
    #[schema(value_type = Object)]
    pub preferences: Value,
    /// Bumped on every change.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) field_clock: Json<Clock>,
}

pub(crate) const COLUMNS: &str = "id, customer_id, store_id, name, name_kana, email, phone, status, notes, preferences, \
                                  version, created_at, updated_at, field_clock";

pub(crate) const SYNCED_FIELDS: [&str; 4] = ["name", "name_kana", "email", "phone"];
const PREF: &str = "pref:";
const MAX_PREFERENCE_KEYS: usize = 100;
const MAX_PREFERENCES_BYTES: usize = 16 * 1024;
pub(crate) const MAX_NOTES: usize = 10_000;

impl Profile {
    fn prefs(&self) -> Option<&Map<String, Value>> {
        self.preferences.as_object()
    }

    fn prefs_mut(&mut self) -> &mut Map<String, Value> {
        if !self.preferences.is_object() {
            self.preferences = Value::Object(Map::new());
        }
        self.preferences.as_object_mut().expect("an object")
    }

    /// A synced field's value; `Null` when empty or absent.
    pub(crate) fn field(&self, field: &str) -> Value {
        let text = |s: &str| if s.is_empty() { Value::Null } else { Value::String(s.to_string()) };
        match field {
            "name" => text(&self.name),
            "name_kana" => text(&self.name_kana),
            "email" => self.email.as_deref().map_or(Value::Null, text),
            "phone" => self.phone.as_deref().map_or(Value::Null, text),
            f => f.strip_prefix(PREF).and_then(|k| self.prefs().and_then(|p| p.get(k)).cloned()).unwrap_or(Value::Null),
        }
    }

    pub(crate) fn set_field(&mut self, field: &str, value: Value) {
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let opt = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        match field {
            "name" => self.name = text(&value),
            "name_kana" => self.name_kana = text(&value),
            "email" => self.email = opt(&value),
            "phone" => self.phone = opt(&value),
            f => {
                if let Some(key) = f.strip_prefix(PREF) {
                    if value.is_null() {
                        self.prefs_mut().remove(key);
                    } else {
                        self.prefs_mut().insert(key.to_string(), value);
                    }
                }
            }
        }
    }

    /// Sets a field by a local edit at `now` in `store`; returns whether its value changed.
    fn edit(&mut self, field: &str, value: Value, now: DateTime<Utc>, store: StoreId) -> bool {
        if self.field(field) == value {
            return false;
        }
        let at = match self.field_clock.get(field) {
            // a stamp must move forward even if the clock did not
            Some(prev) if prev.at >= now => prev.at + Duration::microseconds(1),
            _ => now,
        };
        self.set_field(field, value);
        self.field_clock.0.insert(field.to_string(), Stamp { at, store });
        true
    }

    /// Store sync: takes every field whose stamp in `source` is later than here. Returns the
    /// fields whose value changed and whether any stamp moved.
    pub(crate) fn absorb(&mut self, source: &Profile) -> (Vec<String>, bool) {
        let mut changed = Vec::new();
        let mut moved = false;
        for (field, stamp) in source.field_clock.iter() {
            if self.field_clock.get(field).is_some_and(|mine| mine >= stamp) {
                continue;
            }
            let value = source.field(field);
            if self.field(field) != value {
                changed.push(field.clone());
                self.set_field(field, value);
            }
            self.field_clock.0.insert(field.clone(), *stamp);
            moved = true;
        }
        (changed, moved)
    }

    /// Merge: `self` is the survivor's profile in a store, `other` the merged customer's.
    /// The survivor's values win; its empty fields (and absent preference keys) take the other
    /// profile's values with their stamps; notes are kept both; blocked if either was.
    pub(crate) fn combine(&mut self, other: &Profile) {
        let mut fields: Vec<String> = SYNCED_FIELDS.iter().map(|f| f.to_string()).collect();
        if let Some(prefs) = other.prefs() {
            fields.extend(prefs.keys().map(|k| format!("{PREF}{k}")));
        }
        for field in fields {
            let theirs = other.field(&field);
            if self.field(&field).is_null() && !theirs.is_null() {
                self.set_field(&field, theirs);
                match other.field_clock.get(&field) {
                    Some(stamp) => self.field_clock.0.insert(field, *stamp),
                    None => self.field_clock.0.remove(&field),
                };
            }
        }
        self.notes = match (self.notes.take(), other.notes.clone()) {
            (Some(a), Some(b)) if a != b => Some(truncate(&format!("{a}\n\n{b}"), MAX_NOTES)),
            (a, b) => a.or(b),
        };
        if other.status == ProfileStatus::Blocked {
            self.status = ProfileStatus::Blocked;
        }
        self.version = self.version.max(other.version);
        self.created_at = self.created_at.min(other.created_at);
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Collapses runs of whitespace (the ideographic space included) to one space and trims.
pub fn normalize_spaces(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '\u{3000}').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Kana as stored and searched: full-width katakana. Hiragana and half-width katakana (with
/// their voicing marks) are converted; spaces normalised as [`normalize_spaces`].
///
/// ```
/// use tenpo_customers::profile::normalize_kana;
/// assert_eq!(normalize_kana("たなか　たろう"), "タナカ タロウ");
/// assert_eq!(normalize_kana("ﾀﾅｶ ｼﾞﾛｳ"), "タナカ ジロウ");
/// assert_eq!(normalize_kana("ﾎﾟｰﾙ"), "ポール");
/// ```
pub fn normalize_kana(s: &str) -> String {
    const HALF: &str = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => out.push(char::from_u32(c as u32 + 0x60).unwrap_or(c)),
            '\u{FF66}'..='\u{FF9D}' => out.push(HALF.chars().nth(c as usize - 0xFF66).unwrap_or(c)),
            '\u{FF9E}' | '\u{FF9F}' => {
                let voiced = c == '\u{FF9E}';
                let base = out.last().copied();
                let combined = base.and_then(|b| {
                    let seion = "カキクケコサシスセソタチツテトハヒフヘホ";
                    let handaku = "ハヒフヘホ";
                    if voiced && b == 'ウ' {
                        Some('ヴ')
                    } else if voiced && seion.contains(b) {
                        char::from_u32(b as u32 + 1)
                    } else if !voiced && handaku.contains(b) {
                        char::from_u32(b as u32 + 2)
                    } else {
                        None
                    }
                });
                match combined {
                    Some(k) => {
                        out.pop();
                        out.push(k);
                    }
                    None => out.push(if voiced { '゛' } else { '゜' }),
                }
            }
            _ => out.push(c),
        }
    }
    normalize_spaces(&out.into_iter().collect::<String>())
}

/// What a new profile starts with, or what fills an existing profile's empty fields.
#[derive(Debug, Clone, Default)]
pub struct ProfileSeed {
    pub name: Option<String>,
    pub name_kana: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub notes: Option<String>,
    pub preferences: Map<String, Value>,
}

impl ProfileSeed {
    /// Name and kana from input; email and phone from the (already normalised) identities.
    pub(crate) fn parse(v: &mut Validator, name: Option<&str>, name_kana: Option<&str>, keys: &[Key]) -> ProfileSeed {
        ProfileSeed {
            name: parse_name(v, "name", name.unwrap_or("")).filter(|s| !s.is_empty()),
            name_kana: parse_kana(v, "name_kana", name_kana.unwrap_or("")).filter(|s| !s.is_empty()),
            email: keys.iter().find(|k| k.kind == IdentityType::Email).map(|k| k.value.clone()),
            phone: keys.iter().find(|k| k.kind == IdentityType::Phone).map(|k| k.value.clone()),
            notes: None,
            preferences: Map::new(),
        }
    }

    /// Takes what this seed lacks from `other` (first non-empty value wins).
    pub(crate) fn absorb(&mut self, other: ProfileSeed) {
        fn fill(a: &mut Option<String>, b: Option<String>) {
            if a.is_none() {
                *a = b;
            }
        }
        fill(&mut self.name, other.name);
        fill(&mut self.name_kana, other.name_kana);
        fill(&mut self.email, other.email);
        fill(&mut self.phone, other.phone);
        fill(&mut self.notes, other.notes);
        for (k, val) in other.preferences {
            self.preferences.entry(k).or_insert(val);
        }
    }

    /// Applies the seed to a profile: a new one takes everything; an existing one only fills
    /// empty fields. Returns the synced fields that changed.
    pub(crate) fn fill(&self, p: &mut Profile, now: DateTime<Utc>) -> (Vec<String>, bool) {
        let mut changed = Vec::new();
        let candidates = [
            ("name", self.name.clone()),
            ("name_kana", self.name_kana.clone()),
            ("email", self.email.clone()),
            ("phone", self.phone.clone()),
        ];
        for (field, value) in candidates {
            if let Some(value) = value.filter(|_| p.field(field).is_null())
                && p.edit(field, Value::String(value), now, p.store_id)
            {
                changed.push(field.to_string());
            }
        }
        for (key, value) in &self.preferences {
            let field = format!("{PREF}{key}");
            if p.field(&field).is_null() && p.edit(&field, value.clone(), now, p.store_id) {
                changed.push(field);
            }
        }
        let mut notes_changed = false;
        if p.notes.is_none() && self.notes.is_some() {
            p.notes = self.notes.clone();
            notes_changed = true;
        }
        (changed, notes_changed)
    }
}

fn parse_name(v: &mut Validator, field: &str, raw: &str) -> Option<String> {
    let s = normalize_spaces(raw);
    if s.chars().count() > 200 {
        v.push(field, "too_long", "must be at most 200 characters");
    }
    Some(s)
}

fn parse_kana(v: &mut Validator, field: &str, raw: &str) -> Option<String> {
    let s = normalize_kana(raw);
    if s.chars().count() > 200 {
        v.push(field, "too_long", "must be at most 200 characters");
    }
    Some(s)
}

pub(crate) fn parse_notes(v: &mut Validator, raw: Option<&str>) -> Option<String> {
    let s = raw.map(str::trim).filter(|s| !s.is_empty())?;
    if s.chars().count() > MAX_NOTES {
        v.push("notes", "too_long", format!("must be at most {MAX_NOTES} characters"));
    }
    Some(s.to_string())
}

pub(crate) fn check_preferences(v: &mut Validator, prefs: &Map<String, Value>) {
    if prefs.len() > MAX_PREFERENCE_KEYS {
        v.push("preferences", "too_long", format!("at most {MAX_PREFERENCE_KEYS} keys"));
    }
    if prefs.keys().any(|k| k.is_empty() || k.chars().count() > 64) {
        v.push("preferences", "invalid", "keys are 1 to 64 characters");
    }
    if serde_json::to_vec(prefs).map_or(0, |b| b.len()) > MAX_PREFERENCES_BYTES {
        v.push("preferences", "too_long", format!("at most {MAX_PREFERENCES_BYTES} bytes of JSON"));
    }
}

/// A change to the caller's store's profile of a customer. Absent fields stay; `""` clears
/// email, phone, notes, name and kana; `preferences` is merged into the stored object (a key
/// set to `null` is removed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    pub name: Option<String>,
    pub name_kana: Option<String>,
    pub email: Option<String>,
    /// Japanese forms accepted (090-1234-5678, +81 90 ..., full-width digits).
    pub phone: Option<String>,
    pub status: Option<ProfileStatus>,
    pub notes: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Map<String, Value>>,
}

struct Patch {
    /// (field, value) for synced fields; `Null` clears.
    synced: Vec<(String, Value)>,
    status: Option<ProfileStatus>,
    notes: Option<Option<String>>,
    email: Option<String>,
    phone: Option<String>,
}

impl UpdateCustomer {
    fn parse(&self) -> Result<Patch, CustomersError> {
        let mut v = Validator::new();
        let mut synced = Vec::new();
        let text = |s: Option<String>| s.filter(|s| !s.is_empty()).map_or(Value::Null, Value::String);
        if let Some(n) = &self.name {
            synced.push(("name".to_string(), text(parse_name(&mut v, "name", n))));
        }
        if let Some(k) = &self.name_kana {
            synced.push(("name_kana".to_string(), text(parse_kana(&mut v, "name_kana", k))));
        }
        let mut email = None;
        if let Some(e) = &self.email {
            let value = if e.trim().is_empty() { None } else { v.check("email", identity::normalize_email(e)) };
            email = value.clone();
            synced.push(("email".to_string(), text(value)));
        }
        let mut phone = None;
        if let Some(p) = &self.phone {
            let value = if p.trim().is_empty() { None } else { v.check("phone", jp::normalize_phone(p)) };
            phone = value.clone();
            synced.push(("phone".to_string(), text(value)));
        }
        let notes = self.notes.as_deref().map(|n| parse_notes(&mut v, Some(n)));
        if let Some(prefs) = &self.preferences {
            check_preferences(&mut v, prefs);
            for (k, val) in prefs {
                synced.push((format!("{PREF}{k}"), val.clone()));
            }
        }
        v.into_result()?;
        Ok(Patch { synced, status: self.status, notes, email, phone })
    }
}

/// The database's clock (one clock for every app server).
pub(crate) async fn clock_now(tx: &mut Tx) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(&mut **tx).await
}

pub(crate) async fn find(tx: &mut Tx, store: StoreId, customer: CustomerId) -> Result<Option<Profile>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM customer_profiles WHERE store_id = $1 AND customer_id = $2"))
        .bind(store)
        .bind(customer)
        .fetch_optional(&mut **tx)
        .await
}

pub(crate) async fn lock(tx: &mut Tx, store: StoreId, customer: CustomerId) -> Result<Option<Profile>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customer_profiles WHERE store_id = $1 AND customer_id = $2 FOR UPDATE"
    ))
    .bind(store)
    .bind(customer)
    .fetch_optional(&mut **tx)
    .await
}

/// [`lock`], answering with it the database's clock as it locked the profile (`clock_now`).
async fn lock_with_clock(
    tx: &mut Tx,
    store: StoreId,
    customer: CustomerId,
) -> Result<Option<(Profile, DateTime<Utc>)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        #[sqlx(flatten)]
        profile: Profile,
        clock: DateTime<Utc>,
    }
    let locked: Option<Locked> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, clock_timestamp() AS clock FROM customer_profiles
          WHERE store_id = $1 AND customer_id = $2 FOR UPDATE"
    ))
    .bind(store)
    .bind(customer)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(locked.map(|l| (l.profile, l.clock)))
}

/// Writes every editable column of a profile; `bump` adds one to its version.
pub(crate) async fn save(tx: &mut Tx, p: &Profile, bump: bool) -> Result<Profile, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE customer_profiles SET name = $2, name_kana = $3, email = $4, phone = $5, status = $6, notes = $7,
                preferences = $8, field_clock = $9, version = $10 + CASE WHEN $11 THEN 1 ELSE 0 END
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(p.id)
    .bind(&p.name)
    .bind(&p.name_kana)
    .bind(&p.email)
    .bind(&p.phone)
    .bind(p.status)
    .bind(&p.notes)
    .bind(&p.preferences)
    .bind(&p.field_clock)
    .bind(p.version)
    .bind(bump)
    .fetch_one(&mut **tx)
    .await
}

pub(crate) async fn insert(tx: &mut Tx, p: &Profile) -> Result<Option<Profile>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO customer_profiles (id, tenant_id, customer_id, store_id, name, name_kana, email, phone, status, notes,
                                        preferences, field_clock)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (store_id, customer_id) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(p.id)
    .bind(tx.tenant())
    .bind(p.customer_id)
    .bind(p.store_id)
    .bind(&p.name)
    .bind(&p.name_kana)
    .bind(&p.email)
    .bind(&p.phone)
    .bind(p.status)
    .bind(&p.notes)
    .bind(&p.preferences)
    .bind(&p.field_clock)
    .fetch_optional(&mut **tx)
    .await
}

/// An empty profile of `customer` in `store`, not yet stored.
pub(crate) fn blank(store: StoreId, customer: CustomerId, now: DateTime<Utc>) -> Profile {
    Profile {
        id: ProfileId::new(),
        customer_id: customer,
        store_id: store,
        name: String::new(),
        name_kana: String::new(),
        email: None,
        phone: None,
        status: ProfileStatus::Active,
        notes: None,
        preferences: Value::Object(Map::new()),
        version: 1,
        created_at: now,
        updated_at: now,
        field_clock: Json(Clock::new()),
    }
}

pub(crate) struct Ensured {
    pub profile_id: ProfileId,
    pub created: bool,
}

/// Makes sure `store` has a profile of `customer` (whose row the caller holds locked), filling
/// its empty fields from the seed. Records `customer.profile_created` or
/// `customer.profile_updated` when something changed.
pub(crate) async fn ensure(
    tx: &mut Tx,
    store: StoreId,
    customer: CustomerId,
    seed: &ProfileSeed,
) -> Result<Ensured, sqlx::Error> {
    // the clock is read with the lock (one round trip for a returning customer's profile)
    let (mut found, now) = match lock_with_clock(tx, store, customer).await? {
        Some((p, now)) => (Some(p), now),
        None => (None, clock_now(tx).await?),
    };
    loop {
        if let Some(mut p) = found.take() {
            let (changed, notes) = seed.fill(&mut p, now);
            if !changed.is_empty() || notes {
                let p = save(tx, &p, true).await?;
                record_profile_event(tx, CustomerProfileUpdated, &p, &changed).await?;
            }
            return Ok(Ensured { profile_id: p.id, created: false });
        }
        let mut p = blank(store, customer, now);
        let (changed, _) = seed.fill(&mut p, now);
        // a concurrent resolution may insert the same profile first: then fill that one
        if let Some(p) = insert(tx, &p).await? {
            record_profile_event(tx, CustomerProfileCreated, &p, &changed).await?;
            return Ok(Ensured { profile_id: p.id, created: true });
        }
        found = lock(tx, store, customer).await?;
    }
}

/// The first profile of a customer just created (so none can exist yet), filled from the seed
/// at `now`; answers it with the fields filled, for its `customer.profile_created` event,
/// which the caller records.
pub(crate) async fn insert_new(
    tx: &mut Tx,
    store: StoreId,
    customer: CustomerId,
    seed: &ProfileSeed,
    now: DateTime<Utc>,
) -> Result<(Profile, Vec<String>), sqlx::Error> {
    let mut p = blank(store, customer, now);
    let (changed, _) = seed.fill(&mut p, now);
    let p = insert(tx, &p).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok((p, changed))
}

/// A profile event, to record (see [`record_profile_event`]).
pub(crate) fn profile_event<P: events::Payload>(
    event: fn(ProfileChange) -> P,
    p: &Profile,
    fields: &[String],
) -> events::NewEvent {
    events::NewEvent::of(&event(ProfileChange::new(p, fields))).in_store(p.store_id)
}

/// Profile events carry ids and field names, never the values: personal data stays out of
/// the outbox and webhooks (consumers read the profile), so erasure needs no event rewrite.
pub(crate) async fn record_profile_event<P: events::Payload>(
    tx: &mut Tx,
    event: fn(ProfileChange) -> P,
    p: &Profile,
    fields: &[String],
) -> Result<(), sqlx::Error> {
    events::record(tx, profile_event(event, p, fields)).await?;
    Ok(())
}

/// Changes the caller's store's profile of a customer. The customer row is locked first (as
/// a merge does), so an edit and a merge of the same customer run one after the other; an
/// edit addressed to a merged customer applies to the survivor's profile.
pub async fn update_profile(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: CustomerId,
    input: UpdateCustomer,
) -> Result<Profile, CustomersError> {
    by.require(Permission::CustomersWrite)?;
    let patch = input.parse()?;
    let live = customer::lock_live(tx, id).await?.ok_or(CustomersError::CustomerNotFound)?;
    let mut p = lock(tx, store, live.id).await?.ok_or(CustomersError::CustomerNotFound)?;
    let mut added = Vec::new();
    if let Some(email) = patch.email.filter(|e| p.email.as_deref() != Some(e))
        && identity::claim_for_edit(tx, live.id, &Key::email(email)).await?
    {
        added.push(IdentityType::Email);
    }
    if let Some(phone) = patch.phone.filter(|ph| p.phone.as_deref() != Some(ph))
        && identity::claim_for_edit(tx, live.id, &Key::phone(phone)).await?
    {
        added.push(IdentityType::Phone);
    }
    let now = clock_now(tx).await?;
    let mut changed = Vec::new();
    for (field, value) in patch.synced {
        if p.edit(&field, value, now, store) {
            changed.push(field);
        }
    }
    let mut other = false;
    if let Some(status) = patch.status.filter(|s| *s != p.status) {
        p.status = status;
        other = true;
    }
    if let Some(notes) = patch.notes.filter(|n| *n != p.notes) {
        p.notes = notes;
        other = true;
    }
    if !added.is_empty() {
        identity::record_identities_added(tx, store, live.id, &added, Source::Staff).await?;
    }
    if changed.is_empty() && !other {
        return Ok(p);
    }
    let p = save(tx, &p, true).await?;
    record_profile_event(tx, CustomerProfileUpdated, &p, &changed).await?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(store: StoreId) -> Profile {
        blank(store, CustomerId::new(), Utc::now())
    }

    #[test]
    fn kana_forms_become_full_width_katakana() {
        assert_eq!(normalize_kana("やまだ　はなこ"), "ヤマダ ハナコ");
        assert_eq!(normalize_kana("ﾔﾏﾀﾞ ﾊﾅｺ"), "ヤマダ ハナコ");
        assert_eq!(normalize_kana("ｳﾞｨｵﾗ"), "ヴィオラ");
        assert_eq!(normalize_kana("ユーコ"), "ユーコ");
        assert_eq!(normalize_kana("  ｱ  ｲ "), "ア イ");
        assert_eq!(normalize_kana("ﾞ"), "゛");
    }

    #[test]
    fn the_later_stamp_wins_each_field_and_absorbing_twice_changes_nothing() {
        let (s1, s2) = (StoreId::new(), StoreId::new());
        let t0 = Utc::now();
        let mut a = profile(s1);
        let mut b = profile(s2);
        // store 1 edits the name, then store 2 edits the phone and, later, the name too
        a.edit("name", Value::String("Taro".into()), t0, s1);
        b.edit("phone", Value::String("+819012345678".into()), t0 + Duration::seconds(1), s2);
        b.edit("name", Value::String("Taro Y".into()), t0 + Duration::seconds(2), s2);
        a.edit("pref:newsletter", Value::Bool(true), t0 + Duration::seconds(3), s1);

        let (changed, _) = a.absorb(&b);
        assert_eq!(changed, ["name", "phone"]);
        let (changed, _) = b.absorb(&a);
        assert_eq!(changed, ["pref:newsletter"]);
        for f in ["name", "phone", "pref:newsletter"] {
            assert_eq!(a.field(f), b.field(f), "{f}");
        }
        assert_eq!(a.name, "Taro Y");
        assert_eq!(a.absorb(&b), (vec![], false));
        assert_eq!(b.absorb(&a), (vec![], false));
    }

    #[test]
    fn an_older_edit_never_overwrites_a_newer_one() {
        let (s1, s2) = (StoreId::new(), StoreId::new());
        let t0 = Utc::now();
        let mut old = profile(s1);
        let mut new = profile(s2);
        old.edit("name", Value::String("Old".into()), t0, s1);
        new.edit("name", Value::String("New".into()), t0 + Duration::milliseconds(5), s2);
        assert_eq!(new.absorb(&old), (vec![], false));
        assert_eq!(new.name, "New");
    }

    #[test]
    fn removing_a_preference_key_syncs_as_a_removal() {
        let (s1, s2) = (StoreId::new(), StoreId::new());
        let t0 = Utc::now();
        let mut a = profile(s1);
        let mut b = profile(s2);
        a.edit("pref:dm", Value::Bool(true), t0, s1);
        b.absorb(&a);
        a.edit("pref:dm", Value::Null, t0 + Duration::seconds(1), s1);
        assert_eq!(b.absorb(&a).0, ["pref:dm"]);
        assert!(b.preferences.as_object().unwrap().is_empty());
    }

    #[test]
    fn combining_keeps_the_survivors_values_and_fills_its_gaps() {
        let s = StoreId::new();
        let t0 = Utc::now();
        let mut a = profile(s);
        let mut b = profile(s);
        a.edit("name", Value::String("A".into()), t0, s);
        a.edit("pref:x", Value::from(1), t0, s);
        a.notes = Some("note a".into());
        b.edit("name", Value::String("B".into()), t0, s);
        b.edit("email", Value::String("b@x.jp".into()), t0, s);
        b.edit("pref:x", Value::from(2), t0, s);
        b.edit("pref:y", Value::from(3), t0, s);
        b.notes = Some("note b".into());
        b.status = ProfileStatus::Blocked;
        b.version = 7;
        a.combine(&b);
        assert_eq!(a.name, "A");
        assert_eq!(a.email.as_deref(), Some("b@x.jp"));
        assert_eq!(a.preferences, serde_json::json!({ "x": 1, "y": 3 }));
        assert_eq!(a.notes.as_deref(), Some("note a\n\nnote b"));
        assert_eq!(a.status, ProfileStatus::Blocked);
        assert_eq!(a.version, 7);
        assert!(a.field_clock.contains_key("email"));
    }

    #[test]
    fn a_stamp_moves_forward_even_when_the_clock_does_not() {
        let s = StoreId::new();
        let t0 = Utc::now();
        let mut p = profile(s);
        p.edit("name", Value::String("one".into()), t0, s);
        p.edit("name", Value::String("two".into()), t0, s);
        assert!(p.field_clock["name"].at > t0);
    }
}
