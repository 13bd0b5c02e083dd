//! TEMPORARY stand-in for `notify::mail` (written on another branch), with the agreed
//! interface, so the worker compiles until that branch is merged. Sends nothing.

use serde::{Deserialize, Serialize};

use crate::store::BookingRecord;
use crate::web::i18n::Lang;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    pub transport: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailError(String);

#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

pub struct Message;

pub struct Mailer;

impl Mailer {
    pub fn new(_: &MailConfig) -> Result<Mailer, MailError> {
        Ok(Mailer)
    }

    pub async fn send(&self, _m: Message) -> Result<(), SendError> {
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
pub enum BookingMailKind {
    Received,
    Approved,
    Rejected,
    Cancelled,
    Expired,
}

pub struct BookingMail<'a> {
    pub kind: BookingMailKind,
    pub lang: Lang,
    pub to_name: &'a str,
    pub to_email: &'a str,
    pub booking: &'a BookingRecord,
    pub room_name: &'a str,
    pub building: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub message_id: &'a str,
    pub booking_url: &'a str,
}

pub fn booking_mail(_: &MailConfig, _: &BookingMail) -> Result<Message, MailError> {
    Ok(Message)
}

pub struct DigestItem {
    pub booking_id: String,
    pub room_name: String,
    pub when: String,
    pub requester_name: String,
    pub purpose: String,
}

pub struct DigestMail<'a> {
    pub lang: Lang,
    pub to_name: &'a str,
    pub to_email: &'a str,
    pub items: &'a [DigestItem],
    pub message_id: &'a str,
    pub queue_url: &'a str,
}

pub fn digest_mail(_: &MailConfig, _: &DigestMail) -> Result<Message, MailError> {
    Ok(Message)
}
