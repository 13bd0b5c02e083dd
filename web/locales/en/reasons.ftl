# The core's reasons as sentences for residents, and dates and lengths in words.
weekday-mon = Monday
weekday-tue = Tuesday
weekday-wed = Wednesday
weekday-thu = Thursday
weekday-fri = Friday
weekday-sat = Saturday
weekday-sun = Sunday
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
month-short-1 = Jan
month-short-2 = Feb
month-short-3 = Mar
month-short-4 = Apr
month-short-5 = May
month-short-6 = Jun
month-short-7 = Jul
month-short-8 = Aug
month-short-9 = Sep
month-short-10 = Oct
month-short-11 = Nov
month-short-12 = Dec
date-long = { $weekday } { $day } { $month } { $year }
date-short = { $day } { $monthname }
date-time = { $date } at { $time }
duration-days = { $count ->
    [one] 1 day
   *[other] { $count } days
  }
duration-hours = { $count ->
    [one] 1 hour
   *[other] { $count } hours
  }
duration-minutes = { $count ->
    [one] 1 minute
   *[other] { $count } minutes
  }
list-and = and
list-or = or
quota-bookings = { $count ->
    [one] 1 booking
   *[other] { $count } bookings
  }
reason-closed-all-day = The hall is closed all day on { $date }.
reason-outside-opening-hours = { $time } is outside the opening hours on { $weekday } ({ $hours }).
reason-conflict = The hall is taken { $spans } (including setup and teardown).
reason-conflict-series = This date clashes with another date of the same repetition.
reason-closure = The hall is closed: { $closures }.
reason-too-short = The booking lasts { $length }; it must last at least { $min }.
reason-too-long = The booking lasts { $length }; it may last at most { $max }.
reason-misaligned = Start and end must fall on steps of { $step } ({ $start }–{ $end } does not).
reason-too-soon = Requests must be sent at least { $lead } ahead. The earliest start now is { $earliest }.
reason-too-far-ahead = You may book at most { $horizon } ahead. The latest end now is { $latest }.
reason-over-capacity = The hall holds { $limit } people, and you are { $attendees }.
reason-quota-week = You may have at most { $limit } per week. In the week from { $from } you already have { $used } ({ $usedtime }), and this request asks for { $requested }.
reason-quota-month = You may have at most { $limit } per month. In the month from { $from } you already have { $used } ({ $usedtime }), and this request asks for { $requested }.
reason-nonexistent-local-time = { $time } does not exist: the clocks skip it when summer time starts. Choose another time.
reason-room-closed = This hall cannot be booked.
reason-not-allowed = You may not book this hall.
reason-too-many-skipped = { $skipped } of { $total } dates would be skipped, but at most { $max } ({ $percent }%) may be.
reason-invalid-recurrence = The repetition cannot be used. Check the date in "Repeat weekly until".
reason-no-occurrences = The repetition gives no dates.
stored-outside-opening-hours = The time is outside the hall's opening hours.
stored-conflict = Some dates clashed with other bookings and were skipped.
stored-closure = Some dates fell on days when the hall is closed, and were skipped.
stored-too-short = The booking is shorter than the hall usually allows.
stored-too-long = The booking is longer than the hall usually allows.
stored-misaligned = The times do not fit the hall's time steps.
stored-too-soon = The request came later than the hall's deadline.
stored-too-far-ahead = The booking is further ahead than the hall usually allows.
stored-over-capacity = There are more attendees than the hall holds.
stored-quota-exceeded = The booking goes over your quota for the period.
stored-nonexistent-local-time = Some dates did not exist because of summer time, and were skipped.
stored-room-closed = The hall cannot be booked.
stored-not-allowed = You may not book this hall.
stored-too-many-skipped = Too many dates would be skipped.
stored-invalid-recurrence = The repetition could not be used.
stored-no-occurrences = The repetition gave no dates.

# A series that was not decided to its end (i18n::reasons::truncation).
series-cut-count = The series has more than { $limit } dates, the most that may be booked at once. End it sooner.
series-cut-horizon = The series goes on after { $date }, the furthest ahead the room can be booked. End it sooner.
