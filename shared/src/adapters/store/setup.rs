//! Items of the integration setup, in the organization's partition: accounts, Tripletex keys
//! (never a token) and integrations. Integrations are also in GSI1 (by key) and GSI2 (all, for the
//! scheduled sync); the keys are in [`super::keys`].
//!
//! The key item counts the integrations using it (`integrationCount`); an integration write and the
//! count change are one transaction, and deleting a key requires the count to be 0, so a key can never
//! be deleted under an integration.

use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};

use super::item::*;
use super::keys::{
    self, account_sk, integration_gsi1sk, integration_gsi2sk, integration_sk, key_gsi1pk, key_sk,
    org_pk,
};
use super::{
    cancellation_codes, service_error, written, DynamoStore, StoreError, CONDITION_FAILED,
};
use crate::domain::setup::{
    Account, AccountId, Integration, IntegrationId, IntegrationSettings, IntegrationStatus, KeyId,
    LastSync, OrgId, SyncProgress, TripletexKey,
};

use crate::domain::OrgNumber;

const T_ACCOUNT: &str = "Account";
const T_KEY: &str = "TripletexKey";
const T_INTEGRATION: &str = "Integration";

/// Outcome of [`DynamoStore::create_integration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateIntegration {
    Created,
    /// The account already has an integration (a retried or concurrent request).
    AlreadyExists,
    /// The key was deleted meanwhile.
    KeyMissing,
    AccountMissing,
}

/// Outcome of [`DynamoStore::update_integration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateIntegration {
    Updated,
    /// Someone else changed (or deleted) the integration since it was read.
    VersionConflict,
    /// The new key was deleted meanwhile.
    KeyMissing,
}

/// Outcome of [`DynamoStore::delete_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteKey {
    Deleted,
    NotFound,
    /// Integrations still use the key.
    InUse(u32),
}

fn account_item(a: &Account) -> Item {
    let mut item = key(org_pk(&a.org), account_sk(&a.id));
    item.insert("type".into(), s(T_ACCOUNT));
    item.insert("id".into(), s(a.id.as_str()));
    item.insert("org".into(), s(a.org.as_str()));
    item.insert("name".into(), s(&a.name));
    if let Some(o) = &a.organization_number {
        item.insert("organizationNumber".into(), s(o.as_str()));
    }
    item.insert("createdAt".into(), ts(&a.created_at));
    item
}

fn account_from(item: &Item) -> Result<Account, StoreError> {
    Ok(Account {
        id: get_parsed(item, "id", AccountId::parse)?,
        org: get_parsed(item, "org", OrgId::parse)?,
        name: get_s(item, "name")?.to_string(),
        organization_number: match opt_s(item, "organizationNumber") {
            None => None,
            Some(raw) => Some(
                OrgNumber::parse(raw)
                    .map_err(|_| StoreError::Corrupt("organizationNumber".into()))?,
            ),
        },
        created_at: get_ts(item, "createdAt")?,
    })
}

fn key_item(k: &TripletexKey) -> Item {
    let mut item = key(org_pk(&k.org), key_sk(&k.id));
    item.insert("type".into(), s(T_KEY));
    item.insert("id".into(), s(k.id.as_str()));
    item.insert("org".into(), s(k.org.as_str()));
    item.insert("label".into(), s(&k.label));
    item.insert("accountantKey".into(), b(k.accountant_key));
    item.insert("companyId".into(), n(k.company_id));
    if let Some(name) = &k.company_name {
        item.insert("companyName".into(), s(name));
    }
    item.insert("tokenHint".into(), s(&k.token_hint));
    item.insert("createdAt".into(), ts(&k.created_at));
    item.insert("integrationCount".into(), n(k.integration_count));
    item
}

fn key_from(item: &Item) -> Result<TripletexKey, StoreError> {
    Ok(TripletexKey {
        id: get_parsed(item, "id", KeyId::parse)?,
        org: get_parsed(item, "org", OrgId::parse)?,
        label: get_s(item, "label")?.to_string(),
        accountant_key: get_b(item, "accountantKey")?,
        company_id: get_n(item, "companyId")?,
        company_name: opt_s(item, "companyName").map(str::to_string),
        token_hint: get_s(item, "tokenHint")?.to_string(),
        created_at: get_ts(item, "createdAt")?,
        integration_count: get_n(item, "integrationCount").unwrap_or(0),
    })
}

fn integration_item(i: &Integration) -> Item {
    let st = &i.settings;
    let mut item = key(org_pk(&i.org), integration_sk(&i.account_id));
    item.insert("type".into(), s(T_INTEGRATION));
    item.insert("id".into(), s(i.id.as_str()));
    item.insert("org".into(), s(i.org.as_str()));
    item.insert("accountId".into(), s(i.account_id.as_str()));
    item.insert("keyId".into(), s(st.key_id.as_str()));
    item.insert("clientCompanyId".into(), n(st.client_company_id));
    item.insert(
        "fetchFrom".into(),
        s(st.fetch_from.format("%Y-%m-%d").to_string()),
    );
    item.insert("daysPastDue".into(), n(st.days_past_due));
    item.insert(
        "updateAddressesFromBrreg".into(),
        b(st.update_addresses_from_brreg),
    );
    item.insert(
        "writeAddressesToTripletex".into(),
        b(st.write_addresses_to_tripletex),
    );
    item.insert("includeSaftImported".into(), b(st.include_saft_imported));
    item.insert(
        "includeNullVoucherType".into(),
        b(st.include_null_voucher_type),
    );
    if let Ok(j) = serde_json::to_string(&st.voucher_posting) {
        item.insert("voucherPosting".into(), s(j));
    }
    item.insert("accountantKey".into(), b(i.accountant_key));
    if let Some(name) = &i.client_company_name {
        item.insert("clientCompanyName".into(), s(name));
    }
    item.insert("status".into(), s(i.status.as_str()));
    item.insert("version".into(), n(i.version));
    item.insert("initialSyncVersion".into(), n(i.initial_sync_version));
    item.insert("initialSyncEnqueued".into(), b(i.initial_sync_enqueued));
    if let Some(p) = &i.progress {
        if let Ok(j) = serde_json::to_string(p) {
            item.insert("progress".into(), s(j));
        }
    }
    if let Some(l) = &i.last_sync {
        if let Ok(j) = serde_json::to_string(l) {
            item.insert("lastSync".into(), s(j));
        }
    }
    item.insert("createdAt".into(), ts(&i.created_at));
    item.insert("updatedAt".into(), ts(&i.updated_at));
    item.insert("GSI1PK".into(), s(key_gsi1pk(&st.key_id)));
    item.insert(
        "GSI1SK".into(),
        s(integration_gsi1sk(&i.org, &i.account_id)),
    );
    item.insert("GSI2PK".into(), s(keys::INTEGRATIONS_GSI2PK));
    item.insert(
        "GSI2SK".into(),
        s(integration_gsi2sk(&st.key_id, &i.account_id)),
    );
    item
}

fn integration_from(item: &Item) -> Result<Integration, StoreError> {
    Ok(Integration {
        id: get_parsed(item, "id", IntegrationId::parse)?,
        org: get_parsed(item, "org", OrgId::parse)?,
        account_id: get_parsed(item, "accountId", AccountId::parse)?,
        settings: IntegrationSettings {
            key_id: get_parsed(item, "keyId", KeyId::parse)?,
            client_company_id: get_n(item, "clientCompanyId")?,
            fetch_from: get_date(item, "fetchFrom")?,
            days_past_due: get_n(item, "daysPastDue")?,
            update_addresses_from_brreg: get_b(item, "updateAddressesFromBrreg")?,
            // Items written before the setting existed do not have it: off.
            write_addresses_to_tripletex: match item.get("writeAddressesToTripletex") {
                None => false,
                Some(_) => get_b(item, "writeAddressesToTripletex")?,
            },
            include_saft_imported: get_b(item, "includeSaftImported")?,
            include_null_voucher_type: get_b(item, "includeNullVoucherType")?,
            // Items written before voucher posting existed do not have it: the defaults.
            voucher_posting: opt_json(item, "voucherPosting")?.unwrap_or_default(),
        },
        accountant_key: get_b(item, "accountantKey")?,
        client_company_name: opt_s(item, "clientCompanyName").map(str::to_string),
        status: IntegrationStatus::parse(get_s(item, "status")?)
            .ok_or_else(|| StoreError::Corrupt("status".into()))?,
        version: get_n(item, "version")?,
        initial_sync_version: get_n(item, "initialSyncVersion")?,
        initial_sync_enqueued: get_b(item, "initialSyncEnqueued")?,
        progress: opt_json(item, "progress")?,
        last_sync: opt_json(item, "lastSync")?,
        created_at: get_ts(item, "createdAt")?,
        updated_at: get_ts(item, "updatedAt")?,
    })
}

impl DynamoStore {
    /// Conditional put of a new item; `false` when PK/SK already exist.
    async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        written(result)
    }

    // ---------------------------------------------------------------- accounts

    /// Stores a new account; `false` if its id is taken.
    pub async fn put_account(&self, account: &Account) -> Result<bool, StoreError> {
        self.put_new(account_item(account)).await
    }

    pub async fn get_account(
        &self,
        org: &OrgId,
        id: &AccountId,
    ) -> Result<Option<Account>, StoreError> {
        self.get(org_pk(org), account_sk(id))
            .await?
            .map(|i| account_from(&i))
            .transpose()
    }

    /// The organization's accounts, oldest first (ids are time-ordered).
    pub async fn list_accounts(&self, org: &OrgId) -> Result<Vec<Account>, StoreError> {
        self.query_prefix(org_pk(org), keys::ACCOUNT_PREFIX, None)
            .await?
            .iter()
            .map(account_from)
            .collect()
    }

    // ---------------------------------------------------------------- keys

    /// Stores a new key item (never a token); `false` if its id is taken.
    pub async fn put_key(&self, key: &TripletexKey) -> Result<bool, StoreError> {
        self.put_new(key_item(key)).await
    }

    pub async fn get_key(
        &self,
        org: &OrgId,
        id: &KeyId,
    ) -> Result<Option<TripletexKey>, StoreError> {
        self.get(org_pk(org), key_sk(id))
            .await?
            .map(|i| key_from(&i))
            .transpose()
    }

    pub async fn list_keys(&self, org: &OrgId) -> Result<Vec<TripletexKey>, StoreError> {
        self.query_prefix(org_pk(org), keys::KEY_PREFIX, None)
            .await?
            .iter()
            .map(key_from)
            .collect()
    }

    /// Deletes a key item if no integration uses it (conditional on `integrationCount = 0`).
    pub async fn delete_key(&self, org: &OrgId, id: &KeyId) -> Result<DeleteKey, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), key_sk(id))))
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(integrationCount) OR integrationCount = :zero)",
            )
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(DeleteKey::Deleted),
            Err(e) => {
                let e = e.into_service_error();
                if !e.is_conditional_check_failed_exception() {
                    return Err(service_error(e));
                }
                Ok(match self.get_key(org, id).await? {
                    None => DeleteKey::NotFound,
                    Some(k) => DeleteKey::InUse(k.integration_count),
                })
            }
        }
    }

    // ---------------------------------------------------------------- integrations

    pub async fn get_integration(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<Integration>, StoreError> {
        self.get(org_pk(org), integration_sk(account))
            .await?
            .map(|i| integration_from(&i))
            .transpose()
    }

    fn count_update(
        &self,
        org: &OrgId,
        key_id: &KeyId,
        delta: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), key_sk(key_id))))
            .update_expression("SET integrationCount = if_not_exists(integrationCount, :zero) + :d")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":d", n(delta))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Creates an account's integration in one transaction: the integration item (only if the account
    /// has none), +1 on the key's `integrationCount` (only if the key exists), and a check that the
    /// account exists.
    pub async fn create_integration(
        &self,
        integration: &Integration,
    ) -> Result<CreateIntegration, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(integration_item(integration)))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_err)?;
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                org_pk(&integration.org),
                account_sk(&integration.account_id),
            )))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(build_err)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(self.count_update(&integration.org, &integration.settings.key_id, 1)?)
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateIntegration::Created),
            Err(e) => {
                let e = e.into_service_error();
                let Some(codes) = cancellation_codes(&e) else {
                    return Err(service_error(e));
                };
                let failed = |i: usize| codes.get(i).is_some_and(|c| c == CONDITION_FAILED);
                if failed(0) {
                    Ok(CreateIntegration::AlreadyExists)
                } else if failed(2) {
                    Ok(CreateIntegration::AccountMissing)
                } else if failed(1) {
                    Ok(CreateIntegration::KeyMissing)
                } else {
                    Err(service_error(e))
                }
            }
        }
    }

    /// Writes an integration's new settings if the stored version is still `expected_version`
    /// (an UpdateItem: the status, progress and last sync that the sync worker writes are kept).
    /// When the key changed from `previous_key`, both keys' counts move in the same transaction.
    /// `resync` resets the sync state: status `pending`, a new initial sync not yet queued, no progress.
    pub async fn update_integration(
        &self,
        integration: &Integration,
        expected_version: u32,
        previous_key: &KeyId,
        resync: bool,
    ) -> Result<UpdateIntegration, StoreError> {
        let st = &integration.settings;
        let mut set = vec![
            "keyId = :keyId",
            "clientCompanyId = :cc",
            "fetchFrom = :ff",
            "daysPastDue = :dpd",
            "updateAddressesFromBrreg = :brreg",
            "writeAddressesToTripletex = :wback",
            "includeSaftImported = :saft",
            "includeNullVoucherType = :nullvt",
            "voucherPosting = :vposting",
            "accountantKey = :acct",
            "version = :version",
            "updatedAt = :updatedAt",
            "GSI1PK = :gsi1pk",
            "GSI2SK = :gsi2sk",
        ];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                org_pk(&integration.org),
                integration_sk(&integration.account_id),
            )))
            .condition_expression("attribute_exists(PK) AND version = :expected")
            .expression_attribute_values(":expected", n(expected_version))
            .expression_attribute_values(":keyId", s(st.key_id.as_str()))
            .expression_attribute_values(":cc", n(st.client_company_id))
            .expression_attribute_values(":ff", s(st.fetch_from.format("%Y-%m-%d").to_string()))
            .expression_attribute_values(":dpd", n(st.days_past_due))
            .expression_attribute_values(":brreg", b(st.update_addresses_from_brreg))
            .expression_attribute_values(":wback", b(st.write_addresses_to_tripletex))
            .expression_attribute_values(":saft", b(st.include_saft_imported))
            .expression_attribute_values(":nullvt", b(st.include_null_voucher_type))
            .expression_attribute_values(":vposting", s(to_json(&st.voucher_posting)?))
            .expression_attribute_values(":acct", b(integration.accountant_key))
            .expression_attribute_values(":version", n(integration.version))
            .expression_attribute_values(":updatedAt", ts(&integration.updated_at))
            .expression_attribute_values(":gsi1pk", s(key_gsi1pk(&st.key_id)))
            .expression_attribute_values(
                ":gsi2sk",
                s(integration_gsi2sk(&st.key_id, &integration.account_id)),
            );
        let mut remove = Vec::new();
        match &integration.client_company_name {
            Some(name) => {
                set.push("clientCompanyName = :ccName");
                update = update.expression_attribute_values(":ccName", s(name));
            }
            None => remove.push("clientCompanyName"),
        }
        if resync {
            set.extend([
                "#status = :status",
                "initialSyncVersion = :isv",
                "initialSyncEnqueued = :f",
            ]);
            remove.push("progress");
            update = update
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(integration.status.as_str()))
                .expression_attribute_values(":isv", n(integration.initial_sync_version))
                .expression_attribute_values(":f", b(false));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(build_err)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build());
        if *previous_key != st.key_id {
            request = request
                .transact_items(self.count_update(&integration.org, &st.key_id, 1)?)
                .transact_items(self.count_update(&integration.org, previous_key, -1)?);
        }
        match request.send().await {
            Ok(_) => Ok(UpdateIntegration::Updated),
            Err(e) => {
                let e = e.into_service_error();
                let Some(codes) = cancellation_codes(&e) else {
                    return Err(service_error(e));
                };
                let failed = |i: usize| codes.get(i).is_some_and(|c| c == CONDITION_FAILED);
                if failed(0) {
                    Ok(UpdateIntegration::VersionConflict)
                } else if failed(1) {
                    Ok(UpdateIntegration::KeyMissing)
                } else {
                    Err(service_error(e))
                }
            }
        }
    }

    /// Records that the initial sync of `initial_sync_version` is on the queue. `false` if the
    /// integration has moved on to another initial sync meanwhile.
    pub async fn mark_initial_sync_enqueued(
        &self,
        org: &OrgId,
        account: &AccountId,
        initial_sync_version: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), integration_sk(account))))
            .update_expression("SET initialSyncEnqueued = :t")
            .condition_expression("attribute_exists(PK) AND initialSyncVersion = :v")
            .expression_attribute_values(":t", b(true))
            .expression_attribute_values(":v", n(initial_sync_version))
            .send()
            .await;
        written(result)
    }

    /// For the sync worker: sets an integration's status and progress (`None` removes it) and, when
    /// a sync finished, its last sync. Only if the account's integration is still `integration_id`;
    /// `false` otherwise (deleted or replaced meanwhile). Settings and `version` are not touched.
    pub async fn update_sync_state(
        &self,
        org: &OrgId,
        account: &AccountId,
        integration_id: &IntegrationId,
        status: IntegrationStatus,
        progress: Option<&SyncProgress>,
        last_sync: Option<&LastSync>,
    ) -> Result<bool, StoreError> {
        let mut set = vec!["#status = :status"];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), integration_sk(account))))
            .condition_expression("attribute_exists(PK) AND id = :id")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":id", s(integration_id.as_str()));
        if let Some(p) = progress {
            set.push("progress = :progress");
            request = request.expression_attribute_values(":progress", s(to_json(p)?));
        }
        if let Some(l) = last_sync {
            set.push("lastSync = :lastSync");
            request = request.expression_attribute_values(":lastSync", s(to_json(l)?));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if progress.is_none() {
            expression.push_str(" REMOVE progress");
        }
        written(request.update_expression(expression).send().await)
    }

    /// Every integration that uses a key (GSI1), across organizations.
    pub async fn integrations_using_key(
        &self,
        key: &KeyId,
    ) -> Result<Vec<Integration>, StoreError> {
        self.query_integrations("GSI1", "GSI1PK", &key_gsi1pk(key))
            .await
    }

    /// Every integration, ordered by key then account (GSI2): what the scheduled sync walks.
    pub async fn all_integrations(&self) -> Result<Vec<Integration>, StoreError> {
        self.query_integrations("GSI2", "GSI2PK", keys::INTEGRATIONS_GSI2PK)
            .await
    }

    async fn query_integrations(
        &self,
        index: &str,
        pk_name: &str,
        pk: &str,
    ) -> Result<Vec<Integration>, StoreError> {
        self.query_index(index, pk_name, pk)
            .await?
            .iter()
            .map(integration_from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn integration_round_trips_through_its_item() {
        let t = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let i = Integration {
            id: IntegrationId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7e").unwrap(),
            org: OrgId::parse("org_a").unwrap(),
            account_id: AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap(),
            settings: IntegrationSettings {
                key_id: KeyId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7f").unwrap(),
                client_company_id: 77,
                fetch_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                days_past_due: 14,
                update_addresses_from_brreg: true,
                write_addresses_to_tripletex: true,
                include_saft_imported: false,
                include_null_voucher_type: true,
                voucher_posting: Default::default(),
            },
            accountant_key: true,
            client_company_name: Some("Fjordkraft Rørlegger AS".into()),
            status: IntegrationStatus::Pending,
            version: 2,
            initial_sync_version: 1,
            initial_sync_enqueued: true,
            progress: None,
            last_sync: None,
            created_at: t,
            updated_at: t,
        };
        let item = integration_item(&i);
        assert_eq!(integration_from(&item).unwrap(), i);
        assert_eq!(
            get_s(&item, "GSI2SK").unwrap(),
            integration_gsi2sk(&i.settings.key_id, &i.account_id)
        );
        assert_eq!(
            get_s(&item, "GSI1SK").unwrap(),
            keys::account_pk(&i.org, &i.account_id)
        );
        // An item written before `writeAddressesToTripletex` existed reads as off.
        let mut old = item.clone();
        old.remove("writeAddressesToTripletex");
        let read = integration_from(&old).unwrap();
        assert!(!read.settings.write_addresses_to_tripletex);
        assert!(read.settings.update_addresses_from_brreg);
    }
}
