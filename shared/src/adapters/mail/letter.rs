//! The e-mail that carries a dunning letter: a MIME message built with `lettre` (its builder
//! only) and sent with SES v2 as raw content, so the PDF goes as an attachment (SES's simple
//! content has none).
//!
//! - `From`: the verified sender identity with the creditor's name as display name;
//! - `Reply-To`: the creditor's reply address, so the debtor answers the creditor;
//! - `Message-ID`: one per letter (`<{letterId}@{sender domain}>`), and `In-Reply-To` /
//!   `References` per case (`<{caseId}.{accountId}@{sender domain}>`), so a debtor's replies to
//!   the letters of one case thread together in the creditor's mailbox;
//! - a short plain-text body, and the letter as `application/pdf`.
//!
//! The same letter gives the same bytes (fixed boundary, the date passed in).

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};

use super::ses::MailError;

/// One letter by e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterMail {
    /// The creditor's name (the `From` display name).
    pub from_name: String,
    /// The creditor's reply address.
    pub reply_to: Option<String>,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// The letter's id: the local part of its `Message-ID`.
    pub letter_id: String,
    /// One thread id per case in the letter (`{caseId}.{accountId}`): `In-Reply-To` names the
    /// first, `References` all of them.
    pub threads: Vec<String>,
    pub attachment_name: String,
    pub pdf: Vec<u8>,
    /// The `Date` header.
    pub date: DateTime<Utc>,
}

/// `<{local}@{domain of from}>`.
pub fn message_id(local: &str, from: &str) -> String {
    let domain = from.rsplit_once('@').map_or("inndrive.invalid", |(_, d)| d);
    format!("<{local}@{domain}>")
}

fn mailbox(name: Option<&str>, address: &str, field: &str) -> Result<Mailbox, MailError> {
    let address = address
        .trim()
        .parse()
        .map_err(|_| MailError::Invalid(format!("{field} is not an e-mail address")))?;
    Ok(Mailbox::new(
        name.map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        address,
    ))
}

/// The MIME message of `mail`, sent from `from` (the verified identity).
pub fn mime(mail: &LetterMail, from: &str) -> Result<Vec<u8>, MailError> {
    if mail.subject.chars().any(char::is_control) {
        return Err(MailError::Invalid("the subject has line breaks".into()));
    }
    let mut b = Message::builder()
        .from(mailbox(Some(&mail.from_name), from, "the sender")?)
        .to(mailbox(None, &mail.to, "the recipient")?)
        .subject(mail.subject.clone())
        .date(SystemTime::from(mail.date))
        .message_id(Some(message_id(&mail.letter_id, from)));
    if let Some(r) = mail.reply_to.as_deref().filter(|r| !r.trim().is_empty()) {
        b = b.reply_to(mailbox(Some(&mail.from_name), r, "the reply-to address")?);
    }
    let threads: Vec<String> = mail.threads.iter().map(|t| message_id(t, from)).collect();
    if let Some(first) = threads.first() {
        b = b.in_reply_to(first.clone()).references(threads.join(" "));
    }
    let pdf = ContentType::parse("application/pdf")
        .map_err(|e| MailError::Invalid(format!("content type: {e}")))?;
    let body = MultiPart::mixed()
        .boundary(format!("inndrive-{}", mail.letter_id))
        .singlepart(SinglePart::plain(mail.text.clone()))
        .singlepart(Attachment::new(mail.attachment_name.clone()).body(mail.pdf.clone(), pdf));
    let message = b
        .multipart(body)
        .map_err(|e| MailError::Invalid(format!("the message: {e}")))?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn mail() -> LetterMail {
        LetterMail {
            from_name: "Bølgen & Skjærgård AS".into(),
            reply_to: Some("faktura@bolgen.no".into()),
            to: "kunde@example.no".into(),
            subject: "Purring – faktura 10023 – Bølgen & Skjærgård AS".into(),
            text: "Hei!\nBeløp å betale: kr 12 538,00\n".into(),
            letter_id: "ltr_0123456789abcdef0123456789abcdef".into(),
            threads: vec!["case_inv_80001.acc_1".into(), "case_inv_80002.acc_1".into()],
            attachment_name: "purring-10023.pdf".into(),
            pdf: b"%PDF-1.7 fake".to_vec(),
            date: Utc.with_ymd_and_hms(2026, 10, 1, 6, 30, 0).unwrap(),
        }
    }

    /// Read back as a mail client reads it: headers unfolded and decoded (lettre folds long
    /// lines and encodes non-ASCII words), the parts decoded.
    #[test]
    fn the_message_threads_per_case_and_is_the_same_bytes_twice() {
        use mailparse::{DispositionType, MailHeaderMap};
        let raw = mime(&mail(), "noreply@inndrive.test").unwrap();
        let m = mailparse::parse_mail(&raw).unwrap();
        let h = |name: &str| {
            m.headers
                .get_first_value(name)
                .unwrap_or_else(|| panic!("no {name} header"))
        };
        assert_eq!(
            h("Message-ID"),
            "<ltr_0123456789abcdef0123456789abcdef@inndrive.test>"
        );
        assert_eq!(h("In-Reply-To"), "<case_inv_80001.acc_1@inndrive.test>");
        let references: Vec<String> = h("References")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        assert_eq!(
            references,
            [
                "<case_inv_80001.acc_1@inndrive.test>",
                "<case_inv_80002.acc_1@inndrive.test>"
            ]
        );
        let from = mailparse::addrparse_header(m.headers.get_first_header("From").unwrap())
            .unwrap()
            .extract_single_info()
            .unwrap();
        assert_eq!(from.display_name.as_deref(), Some("Bølgen & Skjærgård AS"));
        assert_eq!(from.addr, "noreply@inndrive.test");
        let reply_to = mailparse::addrparse_header(m.headers.get_first_header("Reply-To").unwrap())
            .unwrap()
            .extract_single_info()
            .unwrap();
        assert_eq!(reply_to.addr, "faktura@bolgen.no");
        assert_eq!(h("To"), "kunde@example.no");
        assert_eq!(
            h("Subject"),
            "Purring – faktura 10023 – Bølgen & Skjærgård AS"
        );
        assert_eq!(
            mailparse::dateparse(&h("Date")).unwrap(),
            mail().date.timestamp()
        );

        assert_eq!(m.ctype.mimetype, "multipart/mixed");
        assert_eq!(m.subparts.len(), 2);
        assert_eq!(m.subparts[0].ctype.mimetype, "text/plain");
        assert_eq!(
            m.subparts[0].get_body().unwrap().replace("\r\n", "\n"),
            mail().text
        );
        let pdf = &m.subparts[1];
        assert_eq!(pdf.ctype.mimetype, "application/pdf");
        let disposition = pdf.get_content_disposition();
        assert_eq!(disposition.disposition, DispositionType::Attachment);
        assert_eq!(disposition.params["filename"], "purring-10023.pdf");
        assert_eq!(pdf.get_body_raw().unwrap(), mail().pdf);

        assert_eq!(raw, mime(&mail(), "noreply@inndrive.test").unwrap());
    }

    #[test]
    fn bad_addresses_and_subjects_are_refused_before_anything_is_sent() {
        let mut m = mail();
        m.to = "not an address".into();
        assert!(matches!(
            mime(&m, "noreply@inndrive.test"),
            Err(MailError::Invalid(_))
        ));
        let mut m = mail();
        m.subject = "two\nlines".into();
        assert!(mime(&m, "noreply@inndrive.test").is_err());
        assert!(mime(&mail(), "nobody").is_err());
    }
}
