# Residents' pages: start page, hall page, booking form and my bookings.
start-title = Find a free hall
start-intro = Search for a hall that is free when you need it, and send a request.
rooms-found = { $count ->
    [0] No halls
    [one] One hall
   *[other] { $count } halls
  }
capacity-people = { $count } people
rooms-free = { $count ->
    [0] No free halls
    [one] One free hall
   *[other] { $count } free halls
  }
search-legend = What do you need?
search-date = Date
search-from = From
search-to = Until
search-people = Number of people
search-equipment = Equipment
search-building = Building
search-any = Any
search-submit = Search
search-hint = Give a date and times to see only halls that are free the whole time.
search-free-when = Free the whole time { $when }.
search-error-date = Write the date as YYYY-MM-DD, for example 2027-01-07
search-error-date-needed = Choose a date for the times
search-error-time = Write the time as HH:MM, for example 18:00
search-error-to-needed = Choose when you finish
search-error-from-needed = Choose when you start
search-error-order = The end must be after the start
search-error-people = Write the number of people as a whole number, at least 1
equipment-kitchen = Kitchen
equipment-piano = Piano
equipment-projector = Projector
equipment-sound-system = Sound system
equipment-stage = Stage
equipment-video-conference = Video conferencing
equipment-wheelchair-access = Wheelchair access
equipment-whiteboard = Whiteboard
error-bad-request = Invalid address
hall-not-found = There is no such hall.
hall-error-date = The date in the address is invalid. Use YYYY-MM-DD.
hall-error-week = The week in the address is invalid. Use YYYY-Www, for example 2027-W01.
hall-building = Building
hall-floor = Floor
hall-capacity = Holds
hall-equipment = Equipment
hall-about = About the hall
hall-book = Request this hall
hall-retired = This hall no longer exists and cannot be booked.
hall-closed = This hall cannot be booked at the moment.
hall-week = Free times
hall-week-hint = The table shows only whether the hall is free, busy or closed, never who booked it. "Busy" also covers the setup and teardown time around other bookings.
hall-week-nav = Change week
week-previous = Previous week
week-next = Next week
hall-week-caption = Week { $week }: { $from } to { $to }
hall-time = Time
hall-division = Divisible hall
hall-parts = { $hall } is made of { $parts }.
hall-parts-rule = Booking the whole hall blocks all its parts at the same time. If you need less space, you can book one part.
hall-part-of = { $room } is part of { $hall }.
hall-part-of-rule = When the whole hall is booked, this part is busy too, and the other way round.
card-parts = Made of { $parts }; booking the whole blocks all its parts.
card-part-of = Part of { $hall }.
hall-no-hours = The hall has no opening hours this week.
slot-free = Free
slot-busy = Busy
slot-closed = Closed
slot-past = Past
book-title = Request { $hall }
book-see-week = See free times
book-date = Date
book-start = From
book-end = Until
book-purpose = What will the hall be used for?
book-purpose-hint = Shown only to you and the clerks. At most 500 characters.
book-attendees = Number of attendees
book-repeat-until = Repeat weekly until
book-repeat-until-hint = Optional. The same weekday and time every week up to and including this date. Dates that are not free are skipped.
book-check = Check
book-submit = Send request
book-error-date = Write the date as YYYY-MM-DD, for example 2027-01-07
book-error-time = Write the time as HH:MM, for example 18:00
book-error-order = The end must be after the start
book-error-purpose = Say what the hall will be used for
book-error-purpose-long = The description may have at most 500 characters
book-error-attendees = Write the number of attendees as a whole number, at least 1
book-error-until-order = The date must be the booking's day or later
book-error-too-many = The repetition has too many dates. Choose an earlier end date.
book-error-too-many-until = The repetition goes on past { $date }, the last date that can be booked now. Choose that date or an earlier one as the end date.
book-until-offer = Book until { $date }
book-error-too-long = The booking is too long.
book-error-ambiguous = That time happens twice when the clocks go back. Choose another time.
book-refused = The request cannot be sent as it is. See the reasons below the form.
book-overlap = Someone else booked the same time just now. Choose another time.
book-key-reused = This form was already sent with other details. Check the details and send again.
book-not-bookable = The hall cannot be booked
check-heading = Result of the check
check-approved = The request would be approved at once.
check-pending = The request would go to a clerk, who decides.
check-rejected = The request would be refused.
check-skipped = { $count ->
    [one] This date would be skipped:
   *[other] These { $count } dates would be skipped:
  }
mine-title = My bookings
mine-none = You have no bookings yet.
mine-find = Find a free hall
mine-repeats = { $count ->
    [one] One date
   *[other] { $count } dates, weekly
  }
mine-reason = Reason: { $reason }
mine-not-found = The booking does not exist, or it is not yours.
mine-cannot-cancel = The booking cannot be cancelled
mine-cannot-cancel-detail = The booking is "{ $status }" and cannot be cancelled.
mine-no-calendar = The booking is no longer in the calendar, as it does not hold the hall.
mine-notice-created = Your request has been sent.
mine-notice-cancelled = The booking is cancelled.
mine-hold-until = The request must be decided by { $when }, or it expires.
mine-when = Time
mine-purpose = Purpose
mine-hall = Hall
mine-reasons = Notes
mine-dates = Dates
mine-date = Date and time
mine-status = Status
mine-download = Download to calendar (.ics)
mine-cancel = Cancel the booking
mine-back = Back to my bookings
status-pending = Pending
status-approved = Approved
status-rejected = Rejected
status-cancelled = Cancelled
status-expired = Expired
status-skipped = Skipped
status-reason-requester = cancelled by you
status-reason-expired = no clerk decided on the request in time

# Dates one by one (issue 16)
mine-summary = The dates
mine-date-note = Note
mine-date-action = Change
mine-cancel-date = Cancel { $when }
mine-cancel-all = Cancel the whole booking …
mine-confirm-title = Cancel?
mine-confirm-date = Do you want to cancel { $when } at { $hall }? The other dates are kept.
mine-confirm-series = Do you want to cancel the whole booking at { $hall }, all { $count } dates?
mine-confirm-yes-date = Yes, cancel this date
mine-confirm-yes-series = Yes, cancel the whole booking
mine-confirm-no = No, go back
mine-notice-date-cancelled = The date is cancelled. The other dates are kept.

# Moving a date (issue 16)
move-title = Move { $when }
move-intro = Choose a new day and time for { $when } in { $hall }. The new time is decided as a new request; if it is not granted, you keep the time you have.
move-hint = If the hall needs a clerk to approve the change, you keep the old time until the clerk has approved the new one.
move-submit = Move the date
mine-move-date = Move { $when }
mine-notice-date-moved = The date has moved.
mine-notice-date-move-asked = The new time waits for a clerk. You keep the old time until the new one is approved.
status-reason-moved = moved from { $from } to { $to }
status-reason-move-asked = asked to move from { $from } to { $to }
status-reason-moved-to = moved to { $to }
book-error-change-overlaps = The new time overlaps the old one, which you keep until a clerk approves the change. Choose a time that does not overlap, or cancel the date and ask anew.
book-error-change-waiting = A change of this date already waits for a clerk. Cancel that one first.
book-error-date-passed = The date has already begun. Only dates to come can move.
