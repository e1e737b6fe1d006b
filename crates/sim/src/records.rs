//! The records of the tenant's jobs, users-import and users-export, and
//! their JSON as `GET /api/v2/jobs/{id}` shows it. The store keeps them;
//! the handlers (`jobs.rs`, `exports.rs`) make and run them.

use axum::body::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

/// Where an import job is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl JobStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Processing)
    }
}

/// An import job's counts, shown once it is done.
#[derive(Clone, Default)]
pub struct Summary {
    pub failed: u64,
    pub updated: u64,
    pub inserted: u64,
    pub total: u64,
}

/// One users-import job; `errors` are the failed users once it completes.
#[derive(Clone)]
pub struct Job {
    pub id: String,
    pub status: JobStatus,
    pub created_at: String,
    pub connection_id: String,
    pub connection: String,
    pub upsert: bool,
    pub external_id: Option<String>,
    pub send_completion_email: bool,
    pub summary: Summary,
    pub errors: Vec<Value>,
    pub status_details: Option<String>,
}

impl Job {
    /// As `GET /api/v2/jobs/{id}` shows it.
    pub fn to_json(&self) -> Value {
        let mut job = json!({
            "status": self.status.as_str(),
            "type": "users_import",
            "created_at": self.created_at,
            "id": self.id,
            "connection_id": self.connection_id,
            "connection": self.connection,
            "upsert": self.upsert,
            "send_completion_email": self.send_completion_email,
        });
        if let Some(external_id) = &self.external_id {
            job["external_id"] = Value::String(external_id.clone());
        }
        if matches!(self.status, JobStatus::Completed | JobStatus::Failed) {
            job["summary"] = json!({
                "failed": self.summary.failed,
                "updated": self.summary.updated,
                "inserted": self.summary.inserted,
                "total": self.summary.total,
            });
        }
        if let Some(details) = &self.status_details {
            job["status_details"] = Value::String(details.clone());
        }
        job
    }
}

/// What an export's file holds: one JSON object a line, or CSV.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

impl ExportFormat {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
        }
    }
}

/// A field an export writes, and the name it writes it under.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportField {
    pub name: String,
    #[serde(default)]
    pub export_as: Option<String>,
}

/// One export job; `file` is the gzipped export once it is done.
#[derive(Clone)]
pub struct ExportJob {
    pub id: String,
    pub status: &'static str,
    pub created_at: String,
    pub connection: Option<(String, String)>,
    pub format: ExportFormat,
    pub limit: Option<u64>,
    pub fields: Option<Vec<ExportField>>,
    /// The secret part of the download link.
    pub download_key: String,
    pub file: Option<Bytes>,
}

impl ExportJob {
    /// As `GET /api/v2/jobs/{id}` shows it; `base` is the tenant's URL as
    /// this request reached it.
    pub fn to_json(&self, base: &str) -> Value {
        let mut job = json!({
            "status": self.status,
            "type": "users_export",
            "created_at": self.created_at,
            "id": self.id,
            "format": self.format.name(),
        });
        if let Some((id, name)) = &self.connection {
            job["connection_id"] = json!(id);
            job["connection"] = json!(name);
        }
        if let Some(limit) = self.limit {
            job["limit"] = json!(limit);
        }
        if let Some(fields) = &self.fields {
            job["fields"] = fields
                .iter()
                .map(|f| {
                    let mut field = json!({"name": f.name});
                    if let Some(export_as) = &f.export_as {
                        field["export_as"] = json!(export_as);
                    }
                    field
                })
                .collect();
        }
        if self.file.is_some() {
            job["location"] = json!(format!(
                "{base}/__sim/exports/{}.{}.gz?key={}",
                self.id,
                self.format.name(),
                self.download_key
            ));
        }
        job
    }
}
