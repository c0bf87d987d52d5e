/**
 * The trade-ideas document's three example events, exactly as printed there. Tests replay them as
 * publishes and compare what subscribers read, field for field.
 */
export const DOCUMENT_IDEA_OPENED = {
  event_number: 123,
  event_type: "IdeaOpened",
  data: {
    id: "2d1885ed419f4b758dc5f75183dea485",
    timestamp: "2018-06-04T14:34:43.393Z",
    published_at: "2018-06-04T14:34:43.393Z",
    origin: "User",
    comment: "hedge long positon in Eni",
    idea: {
      state: "open",
      open_timestamp: "2018-06-04T14:34:43.393Z",
      close_timestamp: null,
      author: {
        id: "57f8f7f0bd56490eba6a6af42d2da304",
        first_name: "Anthony",
        last_name: "Davis",
        location: {
          city: "London",
          country: "GBR",
          region: "United Kingdom",
        },
        company: {
          id: "23d3295287ea40f28567e3aefb5337f5",
          name: "Big Bank",
        },
      },
      conviction: "High",
      size: "MEDIUM",
      web_link: null,
      time_horizon: "< 3 month",
      stop_loss: null,
      recommendations: [
        {
          public_id: "TIM-WEB-abc123",
          instrument: {
            public_id: "2fbbff04ddb2c97c576cd72a0a8bd5da",
            ric: "EQNR.OL",
            bloomberg_ticker: "EQNR NO",
            figi: "BBG000NSV6T3",
          },
          direction: "SHORT",
          target_price: {
            value: "191.65000000000000000",
            currency: "NOK",
          },
          current_investment: {
            value: 1000000,
            currency: "EUR",
          },
        },
      ],
    },
  },
} as const;

export const DOCUMENT_IDEA_UPDATED = {
  event_number: 124,
  event_type: "IdeaUpdated",
  data: {
    id: "cdce479cf8a045e5b7c6460d70785131",
    timestamp: "2018-06-04T14:33:07.685Z",
    published_at: "2018-06-04T14:33:07.685Z",
    origin: "User",
    comment: "increasing investment",
    idea: {
      state: "open",
      open_timestamp: "2018-05-28T15:11:13.992Z",
      close_timestamp: null,
      author: {
        id: "3f0c3d557ea342f3b19b2b867a283a61",
        first_name: "Daryl",
        last_name: "Hopkins",
        location: {
          city: "New York",
          country: "USA",
          region: "North America",
        },
        company: {
          id: "23d3295287ea40f28567e3aefb5337f5",
          name: "Big Bank",
        },
      },
      conviction: "High",
      size: "MEDIUM",
      web_link: null,
      time_horizon: null,
      stop_loss: "0.05",
      recommendations: [
        {
          public_id: "TIM-WEB-def456",
          instrument: {
            public_id: "0d98b597aa732aea606bde680c3b57d8",
            ric: "RCL",
            bloomberg_ticker: "RCL US",
            figi: "BBG000BB5792",
          },
          direction: "SHORT",
          target_price: null,
          current_investment: {
            value: 4000000,
            currency: "USD",
          },
        },
      ],
    },
  },
} as const;

export const DOCUMENT_IDEA_CLOSED = {
  event_number: 125,
  event_type: "IdeaClosed",
  data: {
    id: "f9f5c34ab7204308ab87689f04a492dd",
    timestamp: "2018-06-04T14:35:11.225Z",
    published_at: "2018-06-04T14:35:11.225Z",
    origin: "User",
    comment: "stop loss",
    idea: {
      state: "closed",
      open_timestamp: "2018-05-21T18:57:00.623Z",
      close_timestamp: "2018-06-04T14:35:11.225Z",
      author: {
        id: "68a699431511499bb69535151a913bf5",
        first_name: "Clavis",
        last_name: "Tuan",
        location: {
          city: "New York",
          country: "USA",
          region: "North America",
        },
        company: {
          id: "23d3295287ea40f28567e3aefb5337f5",
          name: "Big Bank",
        },
      },
      conviction: "Very high",
      size: "LARGE",
      web_link: null,
      time_horizon: null,
      stop_loss: "0.1",
      recommendations: [
        {
          public_id: "TIM-WEB-ghi789",
          instrument: {
            public_id: "acc21473c4525b922286130ffbfe00b5",
            ric: "JCP",
            bloomberg_ticker: "JCP US",
            figi: "BBG000BMF5J0",
          },
          direction: "SHORT",
          target_price: null,
          current_investment: {
            value: 0,
            currency: "USD",
          },
        },
      ],
    },
  },
} as const;
