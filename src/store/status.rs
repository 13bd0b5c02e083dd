//! Booking and occurrence statuses as database values: TEXT columns holding the stable names
//! of [`BookingStatus`] and [`OccurrenceStatus`], on both backends. A value the code does not
//! know is a decode error (the store's data is wrong), never a silent default.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type};

use crate::scheduling::{BookingStatus, OccurrenceStatus};

macro_rules! text_status {
    ($ty:ty, $what:literal) => {
        impl<DB: Database> Type<DB> for $ty
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $ty
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<DB>>::decode(value)?;
                <$ty>::parse(text).ok_or_else(|| format!("unknown {} {text:?}", $what).into())
            }
        }

        impl<'q> Encode<'q, Sqlite> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <Sqlite as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Sqlite>>::encode(self.as_str(), buf)
            }
        }

        impl Encode<'_, Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <Postgres as Database>::ArgumentBuffer<'_>,
            ) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }
    };
}

text_status!(BookingStatus, "booking status");
text_status!(OccurrenceStatus, "occurrence status");
