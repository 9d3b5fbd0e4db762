using System.Text.Json;
using RabbitMQ.Client;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>Reads messages straight off a RabbitMQ queue, bypassing MassTransit, to see what really was sent.</summary>
internal static class BrokerQueue
{
    /// <summary>Takes every message on <paramref name="queue"/> and returns each envelope's <c>message</c> object.</summary>
    public static async Task<List<JsonElement>> DrainAsync(Uri vhost, string queue)
    {
        var factory = new ConnectionFactory { Uri = vhost };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var messages = new List<JsonElement>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } delivery)
        {
            using var envelope = JsonDocument.Parse(delivery.Body);
            messages.Add(envelope.RootElement.GetProperty("message").Clone());
        }

        return messages;
    }
}
