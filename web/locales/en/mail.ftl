# E-mail to residents and clerks (src/notify/mail.rs). Plain text: no markup.
mail-greeting = Hello { $name },
mail-received-subject = Request received: { $room }
mail-received-body = We have received your request to book { $room }. A clerk will look at it, and you will get another e-mail when it has been decided.
mail-approved-subject = Approved: { $room }
mail-approved-body = Your booking of { $room } has been approved.
mail-approved-calendar = The calendar invitation in this e-mail (invite.ics) adds the booking to your calendar.
mail-rejected-subject = Rejected: { $room }
mail-rejected-body = We are sorry: your request to book { $room } has been rejected.
mail-cancelled-subject = Cancelled: { $room }
mail-cancelled-body = Your booking of { $room } has been cancelled.
mail-cancelled-calendar = If you added the booking to your calendar, the attachment in this e-mail removes it again.
mail-expired-subject = Not decided in time: { $room }
mail-expired-body = Your request to book { $room } was not decided before its deadline, so the room is no longer held for you. You are welcome to send a new request.
mail-dates-approved-subject = { $count ->
    [one] One date approved: { $room }
   *[other] { $count } dates approved: { $room }
  }
mail-dates-approved-body = { $count ->
    [one] This date of your booking of { $room } has been approved:
   *[other] These { $count } dates of your booking of { $room } have been approved:
  }
mail-dates-rejected-subject = { $count ->
    [one] One date rejected: { $room }
   *[other] { $count } dates rejected: { $room }
  }
mail-dates-rejected-body = { $count ->
    [one] We are sorry: this date of your request for { $room } has been rejected:
   *[other] We are sorry: these { $count } dates of your request for { $room } have been rejected:
  }
mail-dates-cancelled-subject = { $count ->
    [one] One date cancelled: { $room }
   *[other] { $count } dates cancelled: { $room }
  }
mail-dates-cancelled-body = { $count ->
    [one] This date of your booking of { $room } has been cancelled:
   *[other] These { $count } dates of your booking of { $room } have been cancelled:
  }
mail-dates-cancelled-calendar = If you added the booking to your calendar, the attachment in this e-mail removes only these dates; the others stay.
mail-dates-expired-subject = { $count ->
    [one] One date not decided in time: { $room }
   *[other] { $count } dates not decided in time: { $room }
  }
mail-dates-expired-body = { $count ->
    [one] This date of your request for { $room } was not decided before its deadline, and is no longer held for you:
   *[other] These { $count } dates of your request for { $room } were not decided before their deadline, and are no longer held for you:
  }
mail-dates-moved-subject = New time: { $room }
mail-dates-moved-body = { $count ->
    [one] This date of your booking of { $room } has moved to a new time:
   *[other] These { $count } dates of your booking of { $room } have moved to new times:
  }
mail-dates-rest = The booking as it stands now:
mail-reason = Reason: { $reason }
mail-label-room = Room
mail-label-building = Building
mail-label-purpose = Purpose
mail-label-when = When
mail-label-dates = Dates ({ $count })
mail-label-zone = Times are local time ({ $zone }).
mail-date-skipped = not included
mail-date-cancelled = cancelled
mail-date-rejected = rejected
mail-date-pending = pending
mail-date-expired = expired
mail-more-dates = … and { $count ->
    [one] one more date
   *[other] { $count } more dates
  }
mail-link = See the booking: { $url }
mail-footer = This e-mail was sent automatically by Lokal.
mail-digest-subject = { $count ->
    [one] 1 new request
   *[other] { $count } new requests
  }
mail-digest-intro = { $count ->
    [one] This request is waiting for a decision:
   *[other] These requests are waiting for a decision:
  }
mail-digest-item = { $room }, { $when }: { $name } – { $purpose }
mail-digest-link = Open the queue: { $url }
