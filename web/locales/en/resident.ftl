# Residents' pages: start page, hall page, booking form and my bookings.
start-title = Find a free hall
start-intro = Search for a hall that is free when you need it, and send a request.
rooms-found = { $count ->
    [0] No halls
    [one] One hall
   *[other] { $count } halls
  }
capacity-people = { $count } people
