//! The invoice copy: `GET /invoice/{invoiceId}/pdf` (Tripletex's `InvoicePdf_downloadPdf`,
//! `application/pdf`), attached to a legal document as the claim's basis.

use super::{Acting, EmployeeKey, TripletexClient, TripletexError};

/// A PDF starts with this (a body that does not is refused rather than attached).
const PDF_MAGIC: &[u8] = b"%PDF-";

impl TripletexClient {
    /// The invoice as Tripletex sends it to the customer; `None` when Tripletex has no such
    /// invoice or no copy of it (404: an invoice imported without its document).
    pub async fn invoice_pdf(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        invoice_id: i64,
    ) -> Result<Option<Vec<u8>>, TripletexError> {
        let path = format!("/invoice/{invoice_id}/pdf");
        let url = self.url(&path);
        let result = self
            .authed(key, acting, &path, |auth| {
                self.http
                    .get(&url)
                    .header(reqwest::header::AUTHORIZATION, auth)
                    .header(reqwest::header::ACCEPT, "application/pdf")
            })
            .await
            .map_err(|e| self.scrub(e, key));
        match result {
            Ok(body) if body.starts_with(PDF_MAGIC) => Ok(Some(body)),
            Ok(_) => Err(TripletexError::Decode(format!(
                "GET {path}: the body is not a PDF"
            ))),
            Err(TripletexError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
